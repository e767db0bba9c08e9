# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = En directe
listen-live-title = { $station } en directe
listen-live-play = Escoltar en directe
listen-state-on-air = En antena
listen-now-playing = Ara sona: { $what }
listen-state-starting = S’està iniciant…
listen-state-no-input = Fora d’antena de moment: no arriba so de l’estudi

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Episodis
listen-empty = Encara no hi ha episodis. Quan es connecti la memòria USB de la ràdio, els seus episodis apareixeran aquí sols.
listen-footer = Escoltar aquí també comparteix el que sona, en directe o un episodi, amb altres oients, i així la ràdio gasta menys de la seva pròpia connexió a internet.
listen-play = Escoltar { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = Tots els episodis de { $station }
listen-episode-missing-title = Episodi no trobat
listen-episode-missing = Aquest episodi ja no és en aquesta emissora. Els altres programes encara hi són.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Part descarregada
listen-download = Descarregar
listen-other-apps = Altres aplicacions
listen-magnet = Enllaç magnet
listen-torrent = Fitxer torrent

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = S’està connectant…
listen-js-stats = Episodi · fonts: { $sources } · { $speed } · descarregat: { $loaded } · d’altres oients: { $share } · compartit: { $shared }
listen-js-no-sharing = Aquí no es pot compartir entre oients; sona directament des de la ràdio.
listen-js-from-station = Sona directament des de la ràdio.
listen-js-sharing-stopped = S’ha deixat de compartir amb altres oients.
listen-js-episode-offline = Aquest episodi no està disponible ara per ara: la còpia de la ràdio s’ha desconnectat. Tornarà a sonar quan torni, o des d’altres oients que el tinguin.
listen-js-episode-loading = Aquest tipus de fitxer només sona quan l’episodi s’ha descarregat sencer; s’està descarregant…
listen-js-episode-paused = En pausa. Mentre tinguis la pàgina oberta, comparteixes amb altres oients el que ja has descarregat.
listen-js-episode-ended = L’episodi s’ha acabat. Mentre tinguis la pàgina oberta, el comparteixes amb altres oients.
listen-js-live-connecting = S’està connectant amb el directe…
listen-js-live-playing = Sona el directe.
listen-js-live-from-station = Sona el directe des de la ràdio.
listen-js-live-stats = En directe · oients connectats: { $peers } · d’altres oients: { $share } · compartit: { $shared }
listen-js-live-fallback = El reproductor ha fallat; sona el directe des de la ràdio.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Episodis de { $station }
listen-feed-sources = Web, entre oients i rèpliques

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
