# El panel (/admin tras entrar): cada sección, sus avisos y alertas, y las palabras que
# escribe su script.

# Título de la página, cabecera y enlaces a las secciones.
dash-title = { $station } – ajustes
dash-log-out = Salir
dash-nav = Secciones
dash-task-home = Inicio
dash-task-sound = Sonido y directo
dash-task-episodes = Episodios
dash-task-schedule = Programación
dash-task-share = Compartir
dash-task-storage = USB y almacenamiento
dash-task-sisters = Radios hermanas
dash-task-settings = Ajustes
dash-task-technical = Técnico
dash-task-title = { $task } · { $station }
dash-welcome-step = Paso { $n } de { $of }
dash-welcome-sound-title = ¿De dónde viene el sonido?
dash-welcome-sound = Elige la entrada de sonido y guarda. Las barras se mueven con el sonido que entra, y Escuchar pone lo que oirá la gente.
dash-welcome-share-title = ¿Cómo llegará la gente a la radio?
dash-welcome-share = Quien esté en esta wifi puede abrir ya los enlaces de abajo. Para que te escuchen desde cualquier sitio, escribe la dirección pública de la caja (la de tu router de internet o tu dominio) en Dirección pública, o déjalo para luego.
dash-welcome-next = Siguiente
dash-welcome-finish = Terminar
dash-back-home = ‹ Inicio
dash-sound-title = Entrada de sonido y directo
dash-swarm-title = Cifras de lo compartido
dash-technical-title = Ajustes técnicos

# Lo que hizo el último cambio (aviso verde arriba).
dash-done-saved = Guardado. El cambio ya está en marcha.
dash-done-restarting = Guardado. La radio reinicia el sonido y la biblioteca para aplicarlo: vuelve en unos segundos.
dash-done-schedule = Parrilla guardada; las próximas grabaciones llevarán el nombre de sus programas.
dash-done-episode = Se han guardado el título y las notas del episodio.
dash-done-mirror-approved = Copia aprobada: las aplicaciones de los oyentes ya pueden descargar de ella.
dash-done-mirror-removed = Copia quitada. No vuelve a la lista hasta que la permitas en Radios hermanas.
dash-done-mirror-allowed = Esa caja podrá volver a copiar esta radio cuando lo demuestre.

# Alertas (en rojo, arriba): qué pasa y qué hacer.
dash-warn-settings-unreadable = No se pueden leer los ajustes guardados y la caja funciona con los de fábrica. Vuelve a guardarlos en Ajustes.
dash-warn-settings-unusable = Tus ajustes guardados no se pudieron usar ({ $problem }; { $fix }), así que la caja funciona con los de fábrica hasta que los cambies en Ajustes.
dash-warn-usb-removed = { $n ->
    [one] Memoria USB { $label } retirada: su episodio está sin conexión hasta que vuelva.
   *[other] Memoria USB { $label } retirada: sus { $n } episodios están sin conexión hasta que vuelva.
}
dash-warn-no-input = No entra sonido: la tarjeta de sonido no responde. Comprueba que está conectada; la caja lo vuelve a intentar cada pocos segundos y vuelve al aire sola.
dash-warn-silence = { $secs ->
    [one] Silencio en antena desde hace 1 segundo. ¿Está silenciada la salida de la mesa o bajado el fader?
   *[other] Silencio en antena desde hace { $secs } segundos. ¿Está silenciada la salida de la mesa o bajado el fader?
}
dash-warn-push-unreachable = No se puede llegar al servidor Icecast { $server }. La caja lo vuelve a intentar sola en { $secs } s.
dash-warn-push-refused = El servidor Icecast { $server } rechazó la emisión. Revisa su contraseña y su punto de montaje en los ajustes de la caja.
dash-warn-push-dropped = Se cortó la emisión hacia el servidor Icecast { $server }. La caja la vuelve a enviar en { $secs } s.
dash-warn-overflow = La conexión a internet de la caja está llena. Los nuevos oyentes que usan apps de radio o el enlace directo de la emisión van ahora al servidor Icecast { $server } (enviados hasta ahora: { $n }). Quienes ya escuchan se quedan. Se detiene solo cuando vuelve a haber sitio.
dash-warn-full-no-relay = La conexión a internet de la caja está llena: los oyentes que usan apps de radio o el enlace directo de la emisión pueden oír cortes. Para enviar a los nuevos a otro sitio cuando pase, añade un servidor Icecast en «Enviar también la emisión a servidores Icecast».
dash-warn-usb-missing = Falta el disco USB: { $path }. Vuelve a conectarlo: sus episodios vuelven sin tener que leerlos otra vez.
dash-warn-disk-full = La memoria de la caja está casi llena (quedan { $free }). Borra grabaciones o subidas antiguas, o usa una tarjeta más grande.
dash-warn-disk-hours = Al ritmo actual el almacenamiento de la caja se llena en unas { $hours } horas, y no queda ninguna grabación antigua que pueda borrar. Borra subidas, desmarca «conservar» en grabaciones antiguas o usa una tarjeta más grande.
dash-warn-recorder-paused = La grabación está en pausa: el almacenamiento de la caja está lleno. La emisión sigue. Libera espacio y la grabación vuelve a empezar sola.
dash-warn-browser-tracker = Ahora mismo quienes escuchan en el navegador no pueden encontrarse: la caja no llega a su punto de encuentro. Comprueba la conexión a internet de la caja.
dash-warn-unreadable = { $n ->
    [one] No se pudo leer 1 archivo de la biblioteca; aparece en Biblioteca. Los demás están bien.
   *[other] No se pudieron leer { $n } archivos de la biblioteca; aparecen en Biblioteca. Los demás están bien.
}

# En directo: estado, medidor de nivel, oyentes y gráficas del día.
dash-air-title = En directo
dash-air-line-in = En directo desde la entrada de línea
dash-air-test-tone = Tono de prueba, no tu mesa de mezclas
dash-air-silent = Silencio desde hace { $minutes } min: revisa la mesa
dash-air-studio = En directo desde el ordenador del estudio
dash-air-music = Música de la biblioteca: nadie en directo
dash-air-dead = Sale silencio: no entra sonido y no hay música que poner
dash-air-starting = Arrancando
dash-air-no-card = No hay tarjeta de sonido: comprueba que está conectada
dash-air-off = Sin entrada de directo
dash-meter-quiet = Nivel de sonido: aún no entra sonido
dash-meter-now = Nivel de sonido: izquierdo { $left } dB, derecho { $right } dB
dash-level-title = Cómo suena ahora
dash-meter-hint = Las barras se mueven con el sonido que entra. Verde está bien; rojo es demasiado fuerte: baja un poco la salida de la mesa.
dash-meter-word-none = Aún no hay sonido
dash-meter-word-quiet = Demasiado bajo: sube la mesa
dash-meter-word-good = Bien
dash-meter-word-loud = Demasiado alto: baja la mesa
dash-listen = Escuchar
dash-listen-stop = Dejar de escuchar
dash-air-off-hint = Para salir en directo, elige la entrada de sonido en
dash-stat-listeners = Escuchando ahora
dash-stat-room = Caben más oyentes
dash-room = { $n ->
    [0] Ahora no caben más oyentes.
    [one] Cabe 1 oyente más.
   *[other] Caben unos { $more } oyentes más.
} La caja envía ahora { $now }; lo más rápido que ha enviado en dos días es { $best }.
dash-room-unknown = Aún no se sabe: la caja aprende cuánto puede enviar a partir de lo que envía a los oyentes.
dash-stat-yesterday = Ayer
dash-yesterday-peak = hasta { $peak } a la vez, hacia las { $time }
dash-yesterday-nobody = no escuchó nadie
dash-yesterday-none = sin datos de ese día
dash-stat-ways = Cómo escuchan
dash-stat-p2p = Compartiendo en navegadores
dash-stat-uptime = Funcionando desde hace
dash-listen-ways = Emisión: { $stream } · Reproductores: { $players } (compartiendo: { $sharing })
dash-two-days = Hoy y ayer
dash-chart-today = Hoy
dash-plays-download = Descargar lo que sonó (últimos 90 días, para las entidades de gestión)
dash-graph-listeners = Oyentes
dash-graph-upload = Envío a oyentes
dash-chart-listeners-today = Oyentes hoy: hasta { $peak } a la vez, ahora { $now }.
dash-chart-upload-today = Envío a oyentes hoy: hasta { $peak }, ahora { $now }.
dash-chart-today-none = Aún no hay datos de hoy: se añade un punto cada minuto.
dash-chart-yesterday = Ayer: hasta { $peak }.
dash-chart-yesterday-none = No hay datos de ayer.

# Biblioteca: episodios compartidos, archivos en lectura, almacenamiento, archivos ilegibles.
dash-library-title = Biblioteca
dash-library-items = Episodios compartidos:
dash-hashing = Leyendo archivos nuevos:
dash-hashing-progress = { $done } de { $total } archivos ({ $bytes_done } de { $bytes_total })
dash-hashing-hint = Cada archivo nuevo se lee una vez para prepararlo para compartir; una biblioteca grande tarda un rato la primera vez.
dash-stat-peers = Compartiendo con
dash-stat-upload = Enviando ahora
dash-stat-tracker = Punto de encuentro
dash-tracker-line = Episodios: { $swarms } · Dispositivos: { $peers }
dash-storage = Almacenamiento
dash-storage-missing = no está (¿desconectado?)
dash-storage-free = conectado, { $free } libres
dash-storage-present = conectado
dash-storage-none = No hay carpeta de biblioteca: añade una en Ajustes.
dash-problems = Archivos que no se pudieron leer
dash-problem-link-outside = es un acceso directo a un sitio fuera de la biblioteca; copia aquí el archivo mismo
dash-problem-link-loop = es un acceso directo a una carpeta que vuelve sobre sí misma
dash-problem-link-nowhere = es un acceso directo a un archivo que ya no está
dash-problem-name = su nombre tiene caracteres que la caja no puede leer; cámbiale el nombre
dash-problem-not-a-file = no es un archivo normal
dash-problem-empty = el archivo está vacío; vuelve a copiarlo
dash-problem-unreadable = la caja no puede leerlo: puede estar dañado o fallar la memoria USB; vuelve a copiarlo
dash-problem-changed = cambió mientras se leía (¿se estaba copiando?); la caja lo vuelve a intentar sola
dash-problem-not-recorded = la caja no pudo anotarlo en su propia memoria; lo vuelve a intentar en la próxima revisión

# Publicar un episodio (el formulario de subida y lo que escribe su script).
dash-publish-title = Publicar un episodio
dash-upload-file = Archivo de audio (MP3, Ogg, Opus, FLAC, WAV o M4A, hasta { $max })
dash-field-title = Título
dash-field-notes = Notas
dash-field-keep = Conservar esta grabación (nunca se borra para hacer sitio)
dash-upload-submit = Publicar
dash-upload-hint = Si se cae el wifi, vuelve a elegir el mismo archivo: la subida sigue donde se quedó.
dash-js-choose-file = Elige primero un archivo.
dash-js-sending = Enviando: { $done } de { $total }
dash-js-retry = Se perdió la conexión; reintentando ({ $n })…
dash-js-published = Publicado. La caja lo está preparando para compartir; aparecerá en la lista en un minuto.
dash-js-error = Algo ha fallado (error { $status }).

# Compartir: las direcciones para difundir, con sus códigos QR.
dash-share-title = Compartir
dash-share-anyone = Cualquiera en internet puede abrir esto
dash-share-this-wifi = Lo puede abrir la gente de esta wifi
dash-share-no-public = Nadie fuera de esta wifi puede abrir la radio todavía: la caja no tiene dirección pública.
dash-share-set-public = Poner la dirección pública
dash-share-none = Aún no hay dirección que compartir: las páginas solo responden en este ordenador.
dash-share-button = Compartir…
dash-share-more = Más enlaces: directo y feed del pódcast
dash-share-live = Directo
dash-share-feed = Pódcast
dash-share-qr = Código QR de: { $what }
dash-share-address = Dirección de: { $what }
dash-copy = Copiar
dash-js-copied = Copiado
dash-js-selected = Seleccionado: cópialo

# Episodios: editar el título y las notas de cada uno.
dash-episodes-title = Episodios
dash-episode-edit = Editar
dash-episode-page = Página para oyentes
dash-save = Guardar
dash-copy-magnet = Copiar enlace magnet
dash-qr-code = Código QR
dash-episodes-none = Todavía no hay episodios.

# Parrilla semanal.
dash-schedule-title = Parrilla semanal
dash-schedule-hint = Las grabaciones llevan el nombre del programa en antena; las franjas de música de la biblioteca no se graban. Vacía el nombre de un programa para quitarlo; la última fila añade uno.
dash-show = Programa
dash-show-new = Nuevo programa
dash-show-day = Día
dash-show-start = Empieza
dash-show-end = Termina
dash-show-kind = En antena
dash-show-kind-live = En directo (mesa o PC del estudio)
dash-show-kind-playlist = Música de la biblioteca
dash-schedule-save = Guardar parrilla
dash-logo-title = Logo de la radio
dash-logo-now = El logo de la radio ahora
dash-logo-hint = Lo muestran las apps de pódcast, los directorios y las pantallas de inicio de los móviles. Una imagen cuadrada queda mejor: de cualquier otra se usa el cuadrado del centro. Vale una foto del móvil (JPEG, PNG o WebP).
dash-logo-file = Imagen
dash-logo-submit = Usar esta imagen
dash-logo-remove = Volver al logo dibujado
dash-done-logo = El logo nuevo ya está puesto. Las apps de pódcast lo recogen en su próxima visita.
dash-done-logo-removed = Ha vuelto el logo dibujado.

# Radios hermanas: la clave de esta caja, las radios que sigue.
dash-sisters-title = Radios hermanas
dash-key = Clave de esta caja:
dash-key-hint = Las radios que siguen a esta comprueban su lista de episodios con esta clave. Léesela para compararla. Guarda una copia: una caja de repuesto con la misma clave es de confianza desde el primer momento.
dash-key-download = Guardar una copia de la clave
dash-follows = Radios que sigue esta caja
dash-follow-key = Clave: { $key }
dash-follow-key-unseen = Clave: aún no vista
dash-follow-retry = próximo intento en { $secs } s
dash-follow-mirrored = Episodios copiados aquí: { $mirrored } de { $items }
dash-follow-pending = Aún sin contactar.
dash-follow-claim-ok = Esa radio tiene a esta caja en su lista de copias.
dash-follow-claim-refused = Esa radio aún no tiene a esta caja en su lista de copias. Respondió: { $why }
dash-follows-none = Ninguna todavía: escribe abajo la dirección de una radio.
dash-follow-unreachable = La radio no responde. Comprueba su dirección y la conexión a internet de esta caja.
dash-follow-refused = No se puede usar esta dirección: { $why }
dash-follow-not-station = Esta dirección no responde como la caja de una radio.
dash-follow-key-changed = La radio firma ahora con una clave distinta de la que se vio la primera vez. Si ha cambiado de caja, quien la lleva debe cargar la clave antigua en la nueva.
dash-follow-old-list = La radio ha enviado una lista de episodios más antigua que otra ya vista.
dash-follow-local = Esta caja no pudo guardar lo que leyó: { $why }

# Cajas que copian esta radio, y cómo fue su última comprobación.
dash-mirrors-title = Cajas que copian esta radio
dash-mirrors-hint = Una caja solo aparece como copia después de que esta caja descargue trozos al azar de los episodios que tiene y compruebe que son iguales que aquí. Cada una se vuelve a comprobar a menudo y se quita si falla.
dash-mirrors-approval = Las copias nuevas esperan además tu aprobación (Ajustes).
dash-mirror-listed = { $n ->
    [one] En la lista para 1 episodio.
   *[other] En la lista para { $n } episodios.
}
dash-mirror-waiting = { $n ->
    [one] Tiene 1 episodio; espera tu aprobación.
   *[other] Tiene { $n } episodios; espera tu aprobación.
}
dash-mirror-dropped = Fuera de la lista: falló su última comprobación.
dash-mirror-checked = Comprobada { $ago }: { $result }.
dash-mirror-passed = Última vez que la superó: { $ago }.
dash-check-matched = { $pieces ->
    [one] el trozo pedido al azar es igual que la copia de esta radio
   *[other] los { $pieces } trozos pedidos al azar son iguales que la copia de esta radio
}
dash-check-wrong = el trozo { $piece } de «{ $name }» no es igual que la copia de esta radio
dash-check-unanswered = no entregó un trozo de «{ $name }»
dash-check-nothing = no tiene ningún episodio de esta radio
dash-check-unreachable = su dirección no responde
dash-check-not-station = su dirección no responde como la caja de una radio
dash-check-bad-address = su dirección no es válida
dash-check-too-slow = tardó demasiado en entregar los trozos pedidos
dash-approve = Aprobar
dash-remove = Quitar
dash-mirrors-none = Ninguna todavía.
dash-removed-title = Copias quitadas
dash-removed-hint = Estas cajas no aparecen en la lista, digan lo que digan, hasta que las vuelvas a permitir.
dash-removed-at = quitada { $ago }
dash-allow = Volver a permitir

# Puntos de encuentro (trackers) y la clave de una caja antigua.
dash-trackers-title = Puntos de encuentro (trackers)
dash-trackers-hint = Los puntos de encuentro ayudan a los oyentes a encontrarse. La caja comprueba cada uno cada pocos minutos; los enlaces ponen primero los que funcionan.
dash-tracker-dead = No responde: se deja fuera de los enlaces.
dash-tracker-ok = responde el { $percent } %
dash-tracker-ok-ms = responde el { $percent } %, { $ms } ms
dash-trackers-none = Ninguno de fuera por ahora. El punto de encuentro de la propia caja siempre funciona; los de fuera se comprueban unos minutos después de añadirlos.
dash-key-old = Usar la clave de una caja antigua
dash-key-saved = Clave guardada
dash-key-use = Usar esta clave

# Ajustes.
dash-settings-title = Ajustes
dash-about = Sobre la radio
dash-audio = Entrada de sonido
dash-audio-none = Sin directo
dash-audio-sine = Tono de prueba
dash-audio-hint = Después de guardar, mira cómo se mueven las barras de nivel de arriba con la mesa.
dash-bitrate = Calidad de la emisión (kbit/s; 128 está bien, 64 ahorra datos)
dash-source-password = Contraseña del estudio (para BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = El programa del estudio envía su emisión a esta caja como a un servidor Icecast: dirección { $url }, usuario «source», esta contraseña. Entonces sale al aire antes que la entrada de línea. Vacía: ningún estudio puede conectarse.
dash-fallback-folder = Música entre programas: carpeta de la biblioteca
dash-fallback-folder-hint = Cuando nadie está en directo, la caja pone esta carpeta de la biblioteca, en orden aleatorio. Vacía: toda la biblioteca.
dash-fallback-whole-library = (toda la biblioteca)
dash-library-folders = Carpetas de la biblioteca (una por línea)
dash-usb-title = Memorias USB
dash-usb-none = No hay ninguna memoria USB conectada.
dash-usb-root = Las memorias USB están en { $folder }: cada carpeta de ahí es una memoria.
dash-usb-away = { $n ->
    [one] retirada: 1 episodio sin conexión hasta que vuelva
   *[other] retirada: { $n } episodios sin conexión hasta que vuelva
}
dash-usb-stopped = { $n ->
    [one] sin compartir: 1 episodio sin conexión
   *[other] sin compartir: { $n } episodios sin conexión
}
dash-usb-shared = { $n ->
    [one] 1 archivo de audio, compartido
   *[other] { $n } archivos de audio, compartidos
}
dash-usb-space = { $size }, { $free } libres
dash-usb-stop = Dejar de compartir
dash-usb-resume = Volver a compartir
dash-usb-skipped = { $n ->
    [one] 1 archivo no se pudo leer
   *[other] { $n } archivos no se pudieron leer
}: mira por qué
dash-usb-hint = Una memoria se comparte en cuanto se conecta. Si dejas de compartir una, sigue así, por su nombre, aunque la retires.
dash-upload-limit = Límite de envío (KiB/s, 0 = sin límite; bájalo si internet en casa va lento)
dash-extra-trackers = Más puntos de encuentro (trackers, uno por línea)
dash-public-title = Para que te escuchen desde cualquier sitio
dash-public-url = Dirección pública (la de tu router de internet o tu dominio)
dash-max-upload = Subida máxima (MB)
dash-follow-title = Seguir a otras radios
dash-follow-field = Radios hermanas que seguir y copiar (una dirección por línea)
dash-approve-mirrors = Las copias nuevas de esta radio necesitan mi aprobación antes de aparecer
dash-remote-admin = Permitir esta página desde fuera de la red local (solo con una contraseña fuerte)

# El router de casa abre las puertas de la caja hacia internet (system::portmap).
dash-reach-title = Acceso desde internet
dash-reach-hint = El router es el aparato que conecta tu casa a internet. La caja le pide que abra unas pocas puertas (puertos) para que los oyentes y otras emisoras de fuera puedan llegar a ella.
dash-reach-searching = Pidiendo a tu router que abra las puertas…
dash-reach-no-router = Ningún router ha respondido. Puede que los oyentes de fuera de casa no lleguen a la caja; si tu router tiene una opción llamada UPnP o NAT-PMP (abrir puertas automáticamente), actívala.
dash-reach-open = Tu router deja entrar a los oyentes: { $open } de { $total } puertas abiertas.
dash-reach-address = Dirección en internet: { $ip }
dash-reach-door-open = Puerto { $port } ({ $what }): abierto
dash-reach-door-moved = Puerto { $port } ({ $what }): abierto, desde internet se llega por el puerto { $external }
dash-reach-refused-not-allowed = Tu router ha dicho que no al puerto { $port } ({ $what }): sus reglas no se lo permiten a esta caja.
dash-reach-refused-taken = Tu router ha dicho que no al puerto { $port } ({ $what }): otro aparato ya lo está usando.
dash-reach-refused-other = Tu router ha dicho que no al puerto { $port } ({ $what }): { $reason }
dash-reach-trying = Puerto { $port } ({ $what }): preguntando…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = Qué puedes hacer: abre la página de ajustes de tu router (su dirección suele venir en una etiqueta debajo del aparato), busca «redirección de puertos» y envía a esta caja ({ $address }) estos puertos: { $ports }. Si el router lo gestiona tu compañía de internet, llámales y pídeles que lo hagan. Mientras tanto la caja sigue funcionando, pero puede que los oyentes de fuera de casa no lleguen a ella.
dash-reach-by-hand-no-address = Qué puedes hacer: abre la página de ajustes de tu router (su dirección suele venir en una etiqueta debajo del aparato), busca «redirección de puertos» y envía a esta caja estos puertos: { $ports }. Si el router lo gestiona tu compañía de internet, llámales y pídeles que lo hagan. Mientras tanto la caja sigue funcionando, pero puede que los oyentes de fuera de casa no lleguen a ella.
dash-reach-what-peers = para compartir con programas BitTorrent
dash-reach-what-udp-tracker = punto de encuentro de los programas BitTorrent
dash-reach-what-web = páginas y episodios
dash-reach-what-https = páginas seguras
dash-reach-what-stun = para que los oyentes se encuentren entre sí
# El candado del navegador (https): el certificado que la caja pide y renueva sola.
dash-https-title = Candado del navegador (https)
dash-https-valid = El certificado del candado vale hasta el { $date }.
dash-https-renews = La caja lo renueva sola antes de que caduque.
dash-https-files = Es el certificado de los archivos puestos en la configuración: cámbialos antes de esa fecha.
dash-https-expired = El certificado del candado caducó el { $date }.
dash-https-waiting = La caja está pidiendo el certificado del candado para { $name }. Mientras tanto, la radio funciona sin candado.
dash-https-problem-challenge = El servicio de certificados no ha podido llegar a la caja con el nombre { $name }. Comprueba que ese nombre lleva a la dirección de internet de tu casa y que tu router deja pasar hacia la caja los puertos 80 y 443.
dash-https-problem-unreachable = La caja no consigue hablar con el servicio de certificados. Comprueba que la caja tiene internet.
dash-https-problem-refused = El servicio de certificados no ha dado el certificado por ahora (por ejemplo, porque se ha pedido demasiadas veces).
dash-https-problem-storage = La caja no ha podido leer o guardar el certificado en su memoria.
dash-https-problem-bad = El certificado no se puede usar: está dañado o no es de un tipo que la caja entienda.
dash-https-retry = La caja lo volverá a intentar sola. Mientras tanto, la radio sigue funcionando sin candado.
dash-https-files-retry = La caja sigue usando el certificado que tenía y vuelve a leer los archivos en cuanto cambian.
dash-https-detail = Detalle técnico (para quien te ayude)

## Music between shows: the tracks the fallback plays
dash-music-title = Música entre programas
dash-music-hint = Marca las pistas que la caja pone, en orden aleatorio, cuando nadie está en directo. Si no marcas ninguna, pone la carpeta elegida en la página Técnico o toda la biblioteca.
dash-music-empty = Aún no hay música en la biblioteca: los archivos de audio que pongas en una carpeta de la biblioteca aparecerán aquí.
dash-music-count = Marcadas: { $n } de { $total }
dash-music-save = Guardar la lista
dash-done-music = Lista de música entre programas guardada.

## Sending the stream on to Icecast servers
dash-push = Enviar también la emisión a servidores Icecast
dash-push-hint = Un servidor por línea, tal como te lo da quien lo gestiona: icecast://source:CONTRASEÑA@SERVIDOR:PUERTO/PUNTO. Un punto de montaje que acaba en .ogg recibe la emisión Opus; cualquier otro, la MP3 (o escribe ogg o mp3 tras la dirección). Al guardar, la emisión se reinicia un momento.
dash-stat-pushes = Enviada también a
dash-push-sending = { $server }: enviando
dash-push-connecting = { $server }: conectando…
dash-push-failed = { $server }: no se alcanza (mira el aviso de arriba)

# System updates (the Updates card)
dash-update-title = Actualizaciones
dash-update-running = Esta caja funciona con la versión { $version }.
dash-update-available = La versión { $version } está lista para instalar ({ $size } de descarga).
dash-update-notes = Novedades de la versión { $version }
dash-update-check-failed = La última búsqueda de una versión nueva no funcionó: { $why }
dash-update-newest = Es la versión más reciente.
dash-update-never-checked = Aún no se ha buscado una versión nueva.
dash-update-checking = Buscando una versión nueva…
dash-update-downloading = Descargando la versión { $version }: { $done } de { $total }. La emisora sigue en el aire.
dash-update-installing = Instalando la versión { $version }: { $percent } %. La emisora sigue en el aire.
dash-update-waiting = La versión { $version } está instalada. La caja se reinicia con ella en el próximo momento tranquilo: un minuto fuera del aire, más o menos.
dash-update-restarting = Reiniciando con la versión { $version }. La emisora vuelve al aire en un minuto, más o menos.
dash-update-checked = Última búsqueda: { $when }.
dash-update-details = Detalles
dash-update-last-updated = Última actualización: a la versión { $version }, { $when }. Salió bien.
dash-update-last-rolled-back = La versión { $version } se instaló pero no arrancó bien ({ $why }), así que la caja volvió sola a la versión { $back }, { $when }. No volverá a instalar esa versión a menos que pulses «Actualizar ahora».
dash-update-last-failed = La versión { $version } no se instaló, { $when }: { $why } No cambió nada en la caja.
dash-update-why-unreachable = no se pudo llegar al servidor de actualizaciones.
dash-update-why-not-signed = no está firmada por el proyecto streamp2p, así que se rechazó.
dash-update-why-other-box = está hecha para otro tipo de caja, así que se rechazó.
dash-update-why-damaged = la descarga llegó dañada.
dash-update-why-no-space = no hay espacio libre suficiente (hacen falta { $need }, hay { $free } libres).
dash-update-why-install = el instalador se detuvo con un error.
dash-update-why-never-healthy = la versión nueva no respondió a tiempo
dash-update-auto = Las versiones nuevas se instalan solas y la caja se reinicia con ellas en un momento tranquilo: nunca durante un programa en directo del horario ni con un ordenador del estudio conectado.
dash-update-manual = Las versiones nuevas solo se instalan cuando pulsas «Actualizar ahora».
dash-update-make-manual = Solo cuando pulse «Actualizar ahora»
dash-update-make-automatic = Instalar solas las versiones nuevas
dash-update-now = Actualizar ahora
dash-update-check = Buscar ahora
dash-done-update = La actualización ha empezado. Esta tarjeta muestra cómo va; la caja se reinicia cuando esté instalada.
dash-done-update-check = Buscando una versión nueva.
dash-done-usb = Hecho. Quienes escuchan verán el cambio en unos segundos.
