# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = Zuzenean
listen-live-title = { $station } zuzenean
listen-live-play = Entzun zuzenean
listen-state-on-air = Emisioan orain
listen-now-playing = Orain entzuten: { $what }
listen-state-starting = Abiatzen…
listen-state-no-input = Emisiorik ez oraingoz: estudiotik ez da soinurik iristen

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Atalak
listen-empty = Oraindik ez dago atalik. Irratiaren USB memoria konektatzen denean, bere atalak hemen agertuko dira berez.
listen-footer = Hemen entzutean, entzuten dena (zuzenekoa edo atal bat) beste entzule batzuekin partekatzen da, eta horrela irratiak bere interneteko konexio gutxiago behar du.
listen-play = Entzun: { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = Atal guztiak: { $station }
listen-episode-missing-title = Ez da atala aurkitu
listen-episode-missing = Atal hau ez dago jada irrati honetan. Beste saioak hemen daude oraindik.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Deskargatutako zatia
listen-download = Deskargatu
listen-other-apps = Beste aplikazio batzuk
listen-magnet = Magnet esteka
listen-torrent = Torrent fitxategia

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = Konektatzen…
listen-js-stats = Atala · iturriak: { $sources } · { $speed } · deskargatuta: { $loaded } · beste entzuleengandik: { $share } · partekatuta: { $shared }
listen-js-no-sharing = Hemen ezin da entzuleen artean partekatu; irratitik bertatik entzuten da.
listen-js-from-station = Irratitik bertatik entzuten da.
listen-js-sharing-stopped = Beste entzuleekin partekatzeari utzi zaio.
listen-js-episode-offline = Atal hau ez dago eskuragarri oraingoz: irratiaren kopia deskonektatu egin da. Berriro entzungo da kopia itzultzen denean, edo hura duten beste entzuleengandik.
listen-js-episode-loading = Fitxategi mota hau atal osoa deskargatu ondoren bakarrik entzuten da; deskargatzen…
listen-js-episode-paused = Geldituta. Orria irekita daukazun bitartean, deskargatu duzuna beste entzuleekin partekatzen duzu.
listen-js-episode-ended = Atala amaitu da. Orria irekita daukazun bitartean, beste entzuleekin partekatzen duzu.
listen-js-live-connecting = Zuzenekora konektatzen…
listen-js-live-playing = Zuzenekoa entzuten da.
listen-js-live-from-station = Zuzenekoa irratitik bertatik entzuten da.
listen-js-live-stats = Zuzenean · konektatutako entzuleak: { $peers } · beste entzuleengandik: { $share } · partekatuta: { $shared }
listen-js-live-fallback = Erreproduzitzaileak huts egin du; zuzenekoa irratitik bertatik entzuten da.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Atalak: { $station }
listen-feed-sources = Weba, entzuleak eta ispiluak

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
