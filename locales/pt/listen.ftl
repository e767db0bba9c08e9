# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = Em direto
listen-live-title = { $station } em direto
listen-live-play = Ouvir em direto
listen-state-on-air = No ar agora
listen-now-playing = A tocar agora: { $what }
listen-state-starting = A iniciar…
listen-state-no-input = Fora do ar por agora: o estúdio não envia som

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Episódios
listen-empty = Ainda não há episódios. Quando a memória USB da rádio for ligada, os episódios aparecem aqui sozinhos.
listen-footer = Ouvir aqui também partilha o que se ouve, em direto ou um episódio, com outros ouvintes, e assim a rádio gasta menos da sua própria internet.
listen-play = Ouvir { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = Todos os episódios de { $station }
listen-episode-missing-title = Episódio não encontrado
listen-episode-missing = Este episódio já não está nesta rádio. Os outros programas continuam aqui.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Parte descarregada
listen-download = Descarregar
listen-other-apps = Outras aplicações
listen-magnet = Link magnet
listen-torrent = Arquivo torrent

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = A conectar…
listen-js-stats = Episódio · fontes: { $sources } · { $speed } · descarregado: { $loaded } · de outros ouvintes: { $share } · partilhado: { $shared }
listen-js-no-sharing = Aqui não é possível partilhar entre ouvintes; a tocar diretamente da rádio.
listen-js-from-station = A tocar diretamente da rádio.
listen-js-sharing-stopped = Deixou de partilhar com outros ouvintes.
listen-js-episode-offline = Este episódio não está disponível por agora: a cópia da rádio foi desligada. Volta a tocar quando a cópia voltar, ou a partir de outros ouvintes que o tenham.
listen-js-episode-loading = Este tipo de ficheiro só toca depois de o episódio estar todo descarregado; a descarregar…
listen-js-episode-paused = Em pausa. Enquanto tiver a página aberta, partilha com outros ouvintes o que já descarregou.
listen-js-episode-ended = O episódio terminou. Enquanto tiver a página aberta, partilha-o com outros ouvintes.
listen-js-live-connecting = A conectar ao direto…
listen-js-live-playing = A tocar o direto.
listen-js-live-from-station = A tocar o direto a partir da rádio.
listen-js-live-stats = Em direto · ouvintes conectados: { $peers } · de outros ouvintes: { $share } · partilhado: { $shared }
listen-js-live-fallback = O reprodutor falhou; a tocar o direto a partir da rádio.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Episódios de { $station }
listen-feed-sources = Web, entre ouvintes e espelhos

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
