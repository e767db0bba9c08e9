# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = En directo
listen-live-title = { $station } en directo
listen-live-play = Escoitar en directo
listen-state-on-air = En antena
listen-now-playing = Soa agora: { $what }
listen-state-starting = Comezando…
listen-state-no-input = Sen emisión polo momento: non chega son do estudio

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Episodios
listen-empty = Aínda non hai episodios. Cando se conecte a memoria USB da radio, os seus episodios aparecerán aquí sós.
listen-footer = Escoitar aquí tamén comparte o que soa, en directo ou un episodio, con outras persoas que escoitan, e así a radio gasta menos da súa propia conexión a internet.
listen-play = Escoitar { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = Todos os episodios de { $station }
listen-episode-missing-title = Episodio non atopado
listen-episode-missing = Este episodio xa non está nesta emisora. Os outros programas seguen aquí.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Parte descargada
listen-download = Descargar
listen-other-apps = Outras aplicacións
listen-magnet = Ligazón magnet
listen-torrent = Ficheiro torrent

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = Conectando…
listen-js-stats = Episodio · fontes: { $sources } · { $speed } · descargado: { $loaded } · doutros ouvintes: { $share } · compartido: { $shared }
listen-js-no-sharing = Aquí non se pode compartir entre ouvintes; soa directamente desde a radio.
listen-js-from-station = Soa directamente desde a radio.
listen-js-sharing-stopped = Deixouse de compartir con outros ouvintes.
listen-js-episode-offline = Este episodio non está dispoñible polo de agora: a copia da radio desconectouse. Volverá soar cando volva, ou desde outros ouvintes que o teñan.
listen-js-episode-loading = Este tipo de ficheiro só soa cando o episodio está descargado enteiro; descargando…
listen-js-episode-paused = En pausa. Mentres teñas a páxina aberta, compartes con outros ouvintes o que xa descargaches.
listen-js-episode-ended = O episodio rematou. Mentres teñas a páxina aberta, compárteslo con outros ouvintes.
listen-js-live-connecting = Conectando co directo…
listen-js-live-playing = Soa o directo.
listen-js-live-from-station = Soa o directo desde a radio.
listen-js-live-stats = En directo · ouvintes conectados: { $peers } · doutros ouvintes: { $share } · compartido: { $shared }
listen-js-live-fallback = O reprodutor fallou; soa o directo desde a radio.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Episodios de { $station }
listen-feed-sources = Web, entre ouvintes e réplicas

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
