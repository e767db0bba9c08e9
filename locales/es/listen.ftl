# La página para escuchar (src/web/page.rs), las líneas de estado que escribe su script, el feed del pódcast y los títulos de las grabaciones.

# La página para escuchar: la fila del directo y sus estados.
listen-live-heading = En directo
listen-live-title = { $station } en directo
listen-live-play = Escuchar en directo
listen-state-on-air = En antena
listen-now-playing = Suena ahora: { $what }
listen-state-starting = Empezando…
listen-state-no-input = Sin emisión por ahora: no llega sonido del estudio

# La lista de episodios, el botón de cada uno (lo leen los lectores de pantalla), su duración, y el pie.
listen-episodes = Episodios
listen-empty = Todavía no hay episodios. Cuando se conecte la memoria USB de la radio, sus episodios aparecerán aquí solos.
listen-footer = Escuchar aquí también comparte lo que suena, en directo o un episodio, con otras personas que escuchan, y así la radio gasta menos de su propia conexión a internet.
listen-play = Escuchar { $title }
listen-seconds = { $n } s

# La página propia de un episodio (/episode/...): el camino de vuelta a la lista, y la página de un episodio que ya no está.
listen-all-episodes = Todos los episodios de { $station }
listen-episode-missing-title = Episodio no encontrado
listen-episode-missing = Este episodio ya no está en esta emisora. Sus otros programas siguen aquí.

# El reproductor: la barra de descarga (se lee en voz alta) y los enlaces de debajo.
listen-progress = Parte descargada
listen-download = Descargar
listen-other-apps = Otras aplicaciones
listen-magnet = Enlace magnet
listen-torrent = Archivo torrent

# Líneas de estado que escribe el script de la página (src/web/assets/listen.js); el script rellena los valores.
listen-js-connecting = Conectando…
listen-js-stats = Episodio · fuentes: { $sources } · { $speed } · descargado: { $loaded } · desde otros oyentes: { $share } · compartido: { $shared }
listen-js-no-sharing = Aquí no se puede compartir entre oyentes; suena directamente desde la radio.
listen-js-from-station = Suena directamente desde la radio.
listen-js-sharing-stopped = Se ha dejado de compartir con otros oyentes.
listen-js-episode-offline = Este episodio no está disponible por ahora: la copia de la radio se ha desconectado. Volverá a sonar cuando vuelva, o desde otros oyentes que lo tengan.
listen-js-episode-loading = Este tipo de archivo solo suena cuando el episodio se ha descargado entero; descargando…
listen-js-episode-paused = En pausa. Mientras tengas la página abierta, compartes con otros oyentes lo que ya has descargado.
listen-js-episode-ended = El episodio ha terminado. Mientras tengas la página abierta, lo compartes con otros oyentes.
listen-js-live-connecting = Conectando con el directo…
listen-js-live-playing = Suena el directo.
listen-js-live-from-station = Suena el directo desde la radio.
listen-js-live-stats = En directo · oyentes conectados: { $peers } · desde otros oyentes: { $share } · compartido: { $shared }
listen-js-live-fallback = El reproductor ha fallado; suena el directo desde la radio.

# El feed del pódcast (src/web/feed.rs), en el idioma de la radio.
listen-feed-description = Episodios de { $station }
listen-feed-sources = Web, entre oyentes y réplicas

# El título de una grabación de lo emitido (src/live/recorder.rs), en el idioma de la radio.
listen-recording-title = { $who } — { $date }, { $time }
