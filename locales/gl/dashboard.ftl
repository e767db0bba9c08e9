# O panel (/admin despois de entrar): cada sección, os seus avisos e alertas, e as palabras
# que escribe o seu script.

# Título da páxina, cabeceira e ligazóns ás seccións.
dash-title = { $station } – axustes
dash-log-out = Saír
dash-nav = Seccións
dash-task-home = Inicio
dash-task-sound = Son e directo
dash-task-episodes = Episodios
dash-task-schedule = Programación
dash-task-share = Compartir
dash-task-storage = USB e almacenamento
dash-task-sisters = Emisoras irmás
dash-task-settings = Axustes
dash-task-technical = Técnico
dash-task-title = { $task } · { $station }
dash-welcome-step = Paso { $n } de { $of }
dash-welcome-sound-title = De onde vén o son?
dash-welcome-sound = Escolle a entrada de son e garda. As barras móvense co son que entra, e Escoitar pon o que oirá a xente.
dash-welcome-share-title = Como chegará a xente á emisora?
dash-welcome-share = Quen estea nesta wifi xa pode abrir as ligazóns de abaixo. Para que te escoiten desde calquera sitio, escribe o enderezo público da caixa (o do teu router de internet ou o teu dominio) en Enderezo público, ou déixao para despois.
dash-welcome-next = Seguinte
dash-welcome-finish = Rematar
dash-back-home = ‹ Inicio
dash-sound-title = Entrada de son e directo
dash-swarm-title = Cifras do compartido
dash-technical-title = Axustes técnicos

# O que fixo o último cambio (aviso verde arriba).
dash-done-saved = Gardado. O cambio xa está en uso.
dash-done-restarting = Gardado. A radio reinicia o son e a biblioteca para aplicalo: volve nuns segundos.
dash-done-schedule = Grella gardada; as próximas gravacións levarán o nome dos seus programas.
dash-done-episode = Gardáronse o título e as notas do episodio.
dash-done-mirror-approved = Copia aprobada: as aplicacións das persoas ouvintes xa poden descargar dela.
dash-done-mirror-removed = Copia quitada. Non volve á lista ata que a permitas en Radios irmás.
dash-done-mirror-allowed = Esa caixa poderá volver copiar esta radio cando o demostre.

# Alertas (en vermello, arriba): que pasa e que facer.
dash-warn-settings-unreadable = Non se poden ler os axustes gardados e a caixa funciona cos de fábrica. Volve gardalos en Axustes.
dash-warn-settings-unusable = Os teus axustes gardados non se puideron usar ({ $problem }; { $fix }), así que a caixa funciona cos de fábrica ata que os cambies en Axustes.
dash-warn-usb-removed = { $n ->
    [one] Memoria USB { $label } retirada: o seu episodio está sen conexión ata que volva.
   *[other] Memoria USB { $label } retirada: os seus { $n } episodios están sen conexión ata que volva.
}
dash-warn-no-input = Non entra son: a tarxeta de son non responde. Comproba que está conectada; a caixa volve intentalo cada poucos segundos e volve ao aire soa.
dash-warn-silence = { $secs ->
    [one] Silencio na antena desde hai 1 segundo. Está silenciada a saída da mesa ou baixado o fader?
   *[other] Silencio na antena desde hai { $secs } segundos. Está silenciada a saída da mesa ou baixado o fader?
}
dash-warn-push-unreachable = Non se pode chegar ao servidor Icecast { $server }. A caixa volve tentalo soa en { $secs } s.
dash-warn-push-refused = O servidor Icecast { $server } rexeitou a emisión. Revisa o seu contrasinal e o punto de montaxe na configuración da caixa.
dash-warn-push-dropped = Cortouse a emisión cara ao servidor Icecast { $server }. A caixa vólvea enviar en { $secs } s.
dash-warn-overflow = A conexión a internet da caixa está chea. Os novos ouvintes que usan apps de radio ou a ligazón directa da emisión van agora ao servidor Icecast { $server } (enviados ata agora: { $n }). Quen xa escoita queda. Detense só cando volve haber sitio.
dash-warn-full-no-relay = A conexión a internet da caixa está chea: os ouvintes que usan apps de radio ou a ligazón directa da emisión poden oír cortes. Para enviar os novos a outro sitio cando pase, engade un servidor Icecast en «Enviar tamén a emisión a servidores Icecast».
dash-warn-usb-missing = Falta o disco USB: { $path }. Volve conectalo: os seus episodios volven sen ter que lelos outra vez.
dash-warn-disk-full = A memoria da caixa está case chea (quedan { $free }). Borra gravacións ou subidas antigas, ou usa unha tarxeta máis grande.
dash-warn-disk-hours = Ao ritmo actual o almacenamento da caixa énchese nunhas { $hours } horas, e non queda ningunha gravación antiga que poida borrar. Borra subidas, desmarca «conservar» en gravacións antigas ou usa unha tarxeta máis grande.
dash-warn-recorder-paused = A gravación está en pausa: o almacenamento da caixa está cheo. A emisión segue. Libera espazo e a gravación volve comezar soa.
dash-warn-browser-tracker = Agora mesmo quen escoita no navegador non se pode atopar: a caixa non chega ao seu punto de encontro. Comproba a conexión a internet da caixa.
dash-warn-unreadable = { $n ->
    [one] Non se puido ler 1 ficheiro da biblioteca; aparece en Biblioteca. Os demais están ben.
   *[other] Non se puideron ler { $n } ficheiros da biblioteca; aparecen en Biblioteca. Os demais están ben.
}

# En directo: estado, medidor de nivel, ouvintes e gráficas do día.
dash-air-title = En directo
dash-air-line-in = En directo desde a entrada de liña
dash-air-test-tone = Ton de proba, non a túa mesa de mesturas
dash-air-silent = Silencio desde hai { $minutes } min: revisa a mesa
dash-air-studio = En directo desde o ordenador do estudio
dash-air-music = Música da biblioteca: ninguén en directo
dash-air-dead = Sae silencio: non entra son e non hai música que poñer
dash-air-starting = Arrincando
dash-air-no-card = Non hai tarxeta de son: comproba que está conectada
dash-air-off = Sen entrada de directo
dash-meter-quiet = Nivel de son: aínda non entra son
dash-meter-now = Nivel de son: esquerdo { $left } dB, dereito { $right } dB
dash-level-title = Como soa agora
dash-meter-hint = As barras móvense co son que entra. Verde está ben; vermello é demasiado forte: baixa un pouco a saída da mesa.
dash-meter-word-none = Aínda non hai son
dash-meter-word-quiet = Moi baixo: sobe a mesa
dash-meter-word-good = Ben
dash-meter-word-loud = Moi alto: baixa a mesa
dash-listen = Escoitar
dash-listen-stop = Deixar de escoitar
dash-air-off-hint = Para saír en directo, escolle a entrada de son en
dash-stat-listeners = Escoitando agora
dash-stat-room = Caben máis ouvintes
dash-room = { $n ->
    [0] Agora non caben máis ouvintes.
    [one] Cabe 1 ouvinte máis.
   *[other] Caben uns { $more } ouvintes máis.
} A caixa envía agora { $now }; o máximo que enviou en dous días é { $best }.
dash-room-unknown = Aínda non se sabe: a caixa aprende canto pode enviar a partir do que lles envía aos ouvintes.
dash-stat-yesterday = Onte
dash-yesterday-peak = ata { $peak } á vez, arredor das { $time }
dash-yesterday-nobody = non escoitou ninguén
dash-yesterday-none = sen datos dese día
dash-stat-ways = Como escoitan
dash-stat-p2p = Compartindo nos navegadores
dash-stat-uptime = Funcionando desde hai
dash-listen-ways = Emisión: { $stream } · Reprodutores: { $players } (compartindo: { $sharing })
dash-two-days = Hoxe e onte
dash-chart-today = Hoxe
dash-plays-download = Descargar o que soou (últimos 90 días, para as entidades de xestión)
dash-graph-listeners = Ouvintes
dash-graph-upload = Envío aos ouvintes
dash-chart-listeners-today = Ouvintes hoxe: ata { $peak } á vez, agora { $now }.
dash-chart-upload-today = Envío aos ouvintes hoxe: ata { $peak }, agora { $now }.
dash-chart-today-none = Aínda non hai datos de hoxe: engádese un punto cada minuto.
dash-chart-yesterday = Onte: ata { $peak }.
dash-chart-yesterday-none = Non hai datos de onte.

# Biblioteca: episodios compartidos, ficheiros en lectura, almacenamento, ficheiros ilexibles.
dash-library-title = Biblioteca
dash-library-items = Episodios compartidos:
dash-hashing = Lendo ficheiros novos:
dash-hashing-progress = { $done } de { $total } ficheiros ({ $bytes_done } de { $bytes_total })
dash-hashing-hint = Cada ficheiro novo lese unha vez para preparalo para compartir; unha biblioteca grande tarda un anaco a primeira vez.
dash-stat-peers = Compartindo con
dash-stat-upload = Enviando agora
dash-stat-tracker = Punto de encontro
dash-tracker-line = Episodios: { $swarms } · Dispositivos: { $peers }
dash-storage = Almacenamento
dash-storage-missing = non está (desconectado?)
dash-storage-free = conectado, { $free } libres
dash-storage-present = conectado
dash-storage-none = Non hai cartafol de biblioteca: engade un en Axustes.
dash-problems = Ficheiros que non se puideron ler
dash-problem-link-outside = é un atallo a un sitio fóra da biblioteca; copia aquí o ficheiro mesmo
dash-problem-link-loop = é un atallo a un cartafol que volve sobre si mesmo
dash-problem-link-nowhere = é un atallo a un ficheiro que xa non está
dash-problem-name = o seu nome ten caracteres que a caixa non pode ler; cámbialle o nome
dash-problem-not-a-file = non é un ficheiro normal
dash-problem-empty = o ficheiro está baleiro; volve copialo
dash-problem-unreadable = a caixa non o pode ler: pode estar danado ou fallar a memoria USB; volve copialo
dash-problem-changed = cambiou mentres se lía (estábase copiando?); a caixa volve intentalo soa
dash-problem-not-recorded = a caixa non puido anotalo na súa propia memoria; volve intentalo na próxima revisión

# Publicar un episodio (o formulario de subida e o que escribe o seu script).
dash-publish-title = Publicar un episodio
dash-upload-file = Ficheiro de audio (MP3, Ogg, Opus, FLAC, WAV ou M4A, ata { $max })
dash-field-title = Título
dash-field-notes = Notas
dash-field-keep = Conservar esta gravación (nunca se borra para facer sitio)
dash-upload-submit = Publicar
dash-upload-hint = Se cae a wifi, volve escoller o mesmo ficheiro: a subida segue onde quedou.
dash-js-choose-file = Escolle primeiro un ficheiro.
dash-js-sending = Enviando: { $done } de { $total }
dash-js-retry = Perdeuse a conexión; tentando de novo ({ $n })…
dash-js-published = Publicado. A caixa estao preparando para compartir; aparecerá na lista nun minuto.
dash-js-error = Algo fallou (erro { $status }).

# Compartir: os enderezos para difundir, cos seus códigos QR.
dash-share-title = Compartir
dash-share-anyone = Calquera en internet pode abrir isto
dash-share-this-wifi = Pode abrilo a xente desta wifi
dash-share-no-public = Ninguén fóra desta wifi pode abrir a emisora aínda: a caixa non ten enderezo público.
dash-share-set-public = Pór o enderezo público
dash-share-none = Aínda non hai enderezo para compartir: as páxinas só responden neste ordenador.
dash-share-button = Compartir…
dash-share-more = Máis ligazóns: directo e feed do podcast
dash-share-live = Directo
dash-share-feed = Podcast
dash-share-qr = Código QR de: { $what }
dash-share-address = Enderezo de: { $what }
dash-copy = Copiar
dash-js-copied = Copiado
dash-js-selected = Seleccionado: cópiao

# Episodios: editar o título e as notas de cada un.
dash-episodes-title = Episodios
dash-episode-edit = Editar
dash-episode-page = Páxina para oíntes
dash-save = Gardar
dash-copy-magnet = Copiar ligazón magnet
dash-qr-code = Código QR
dash-episodes-none = Aínda non hai episodios.

# Grella semanal.
dash-schedule-title = Grella semanal
dash-schedule-hint = As gravacións levan o nome do programa que está no aire; as franxas de música da biblioteca non se gravan. Baleira o nome dun programa para quitalo; a última fila engade un.
dash-show = Programa
dash-show-new = Programa novo
dash-show-day = Día
dash-show-start = Comeza
dash-show-end = Remata
dash-show-kind = No aire
dash-show-kind-live = En directo (mesa ou ordenador do estudio)
dash-show-kind-playlist = Música da biblioteca
dash-schedule-save = Gardar a grella
dash-logo-title = Logo da radio
dash-logo-now = O logo da radio agora
dash-logo-hint = Amósano as apps de pódcast, os directorios e as pantallas de inicio dos móbiles. Unha imaxe cadrada queda mellor: de calquera outra úsase o cadrado do centro. Vale unha foto do móbil (JPEG, PNG ou WebP).
dash-logo-file = Imaxe
dash-logo-submit = Usar esta imaxe
dash-logo-remove = Volver ao logo debuxado
dash-done-logo = O logo novo xa está posto. As apps de pódcast recólleno na súa próxima visita.
dash-done-logo-removed = Volveu o logo debuxado.

# Radios irmás: a chave desta caixa, as radios que segue.
dash-sisters-title = Radios irmás
dash-key = Chave desta caixa:
dash-key-hint = As radios que seguen esta comproban a súa lista de episodios con esta chave. Léllela para comparala. Garda unha copia: unha caixa de substitución coa mesma chave é de confianza desde o primeiro momento.
dash-key-download = Gardar unha copia da chave
dash-follows = Radios que segue esta caixa
dash-follow-key = Chave: { $key }
dash-follow-key-unseen = Chave: aínda non vista
dash-follow-retry = próximo intento en { $secs } s
dash-follow-mirrored = Episodios copiados aquí: { $mirrored } de { $items }
dash-follow-pending = Aínda sen contactar.
dash-follow-claim-ok = Esa radio ten esta caixa na súa lista de copias.
dash-follow-claim-refused = Esa radio aínda non ten esta caixa na súa lista de copias. Respondeu: { $why }
dash-follows-none = Ningunha aínda: escribe abaixo o enderezo dunha radio.
dash-follow-unreachable = A radio non responde. Comproba o seu enderezo e a conexión a internet desta caixa.
dash-follow-refused = Non se pode usar este enderezo: { $why }
dash-follow-not-station = Este enderezo non responde como a caixa dunha radio.
dash-follow-key-changed = A radio asina agora cunha chave distinta da que se viu a primeira vez. Se cambiou de caixa, quen a leva debe cargar a chave antiga na nova.
dash-follow-old-list = A radio enviou unha lista de episodios máis antiga ca outra xa vista.
dash-follow-local = Esta caixa non puido gardar o que leu: { $why }

# Caixas que copian esta radio, e como foi a súa última comprobación.
dash-mirrors-title = Caixas que copian esta radio
dash-mirrors-hint = Unha caixa só aparece como copia despois de que esta caixa descargue anacos ao chou dos episodios que ten e comprobe que son iguais ca aquí. Cada unha compróbase de novo a miúdo e quítase se falla.
dash-mirrors-approval = Ademais, as copias novas agardan a túa aprobación (Axustes).
dash-mirror-listed = { $n ->
    [one] Na lista para 1 episodio.
   *[other] Na lista para { $n } episodios.
}
dash-mirror-waiting = { $n ->
    [one] Ten 1 episodio; agarda a túa aprobación.
   *[other] Ten { $n } episodios; agarda a túa aprobación.
}
dash-mirror-dropped = Fóra da lista: fallou a súa última comprobación.
dash-mirror-checked = Comprobada { $ago }: { $result }.
dash-mirror-passed = Última vez que a superou: { $ago }.
dash-check-matched = { $pieces ->
    [one] o anaco pedido ao chou é igual ca a copia desta radio
   *[other] os { $pieces } anacos pedidos ao chou son iguais ca a copia desta radio
}
dash-check-wrong = o anaco { $piece } de «{ $name }» non é igual ca a copia desta radio
dash-check-unanswered = non entregou un anaco de «{ $name }»
dash-check-nothing = non ten ningún episodio desta radio
dash-check-unreachable = o seu enderezo non responde
dash-check-not-station = o seu enderezo non responde como a caixa dunha radio
dash-check-bad-address = o seu enderezo non é válido
dash-check-too-slow = tardou demasiado en entregar os anacos pedidos
dash-approve = Aprobar
dash-remove = Quitar
dash-mirrors-none = Ningunha aínda.
dash-removed-title = Copias quitadas
dash-removed-hint = Estas caixas non aparecen na lista, digan o que digan, ata que as volvas permitir.
dash-removed-at = quitada { $ago }
dash-allow = Permitir de novo

# Puntos de encontro (trackers) e a chave dunha caixa antiga.
dash-trackers-title = Puntos de encontro (trackers)
dash-trackers-hint = Os puntos de encontro axudan as persoas ouvintes a atoparse. A caixa comproba cada un cada poucos minutos; as ligazóns poñen primeiro os que funcionan.
dash-tracker-dead = Non responde: queda fóra das ligazóns.
dash-tracker-ok = responde o { $percent } %
dash-tracker-ok-ms = responde o { $percent } %, { $ms } ms
dash-trackers-none = Ningún de fóra polo de agora. O punto de encontro da propia caixa sempre funciona; os de fóra compróbanse uns minutos despois de engadilos.
dash-key-old = Usar a chave dunha caixa antiga
dash-key-saved = Chave gardada
dash-key-use = Usar esta chave

# Axustes.
dash-settings-title = Axustes
dash-about = Sobre a radio
dash-audio = Entrada de son
dash-audio-none = Sen directo
dash-audio-sine = Ton de proba
dash-audio-hint = Despois de gardar, mira como se moven as barras de nivel de arriba coa mesa.
dash-bitrate = Calidade da emisión (kbit/s; 128 está ben, 64 aforra datos)
dash-source-password = Contrasinal do estudio (para BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = O programa do estudio envía a súa emisión a esta caixa como a un servidor Icecast: enderezo { $url }, usuario «source», este contrasinal. Entón sae ao aire antes que a entrada de liña. Baleiro: ningún estudio pode conectarse.
dash-fallback-folder = Música entre programas: cartafol da biblioteca
dash-fallback-folder-hint = Cando ninguén está en directo, a caixa pon este cartafol da biblioteca, en orde aleatoria. Baleiro: toda a biblioteca.
dash-fallback-whole-library = (toda a biblioteca)
dash-library-folders = Cartafoles da biblioteca (un por liña)
dash-usb-title = Memorias USB
dash-usb-none = Non hai ningunha memoria USB conectada.
dash-usb-root = As memorias USB están en { $folder }: cada cartafol de aí é unha memoria.
dash-usb-away = { $n ->
    [one] retirada: 1 episodio sen conexión ata que volva
   *[other] retirada: { $n } episodios sen conexión ata que volva
}
dash-usb-stopped = { $n ->
    [one] sen compartir: 1 episodio sen conexión
   *[other] sen compartir: { $n } episodios sen conexión
}
dash-usb-shared = { $n ->
    [one] 1 ficheiro de audio, compartido
   *[other] { $n } ficheiros de audio, compartidos
}
dash-usb-space = { $size }, { $free } libres
dash-usb-stop = Deixar de compartir
dash-usb-resume = Volver compartir
dash-usb-skipped = { $n ->
    [one] 1 ficheiro non se puido ler
   *[other] { $n } ficheiros non se puideron ler
}: mira por que
dash-usb-hint = Unha memoria compártese en canto se conecta. Se deixas de compartir unha, segue así, polo seu nome, aínda que a retires.
dash-upload-limit = Límite de envío (KiB/s, 0 = sen límite; báixao se internet na casa vai lento)
dash-extra-trackers = Máis puntos de encontro (trackers, un por liña)
dash-public-title = Para que te escoiten desde calquera sitio
dash-public-url = Enderezo público (o do teu router de internet ou o teu dominio)
dash-max-upload = Subida máxima (MB)
dash-follow-title = Seguir outras radios
dash-follow-field = Radios irmás que seguir e copiar (un enderezo por liña)
dash-approve-mirrors = As copias novas desta radio precisan a miña aprobación antes de aparecer
dash-remote-admin = Permitir esta páxina desde fóra da rede local (só cun contrasinal forte)

# O router da casa abre as portas da caixa cara a internet (system::portmap).
dash-reach-title = Acceso desde internet
dash-reach-hint = O router é o aparello que conecta a túa casa a internet. A caixa pídelle que abra unhas poucas portas (portos) para que os oíntes e outras emisoras de fóra poidan chegar a ela.
dash-reach-searching = Pedíndolle ao teu router que abra as portas…
dash-reach-no-router = Ningún router respondeu. Pode que os oíntes de fóra da casa non cheguen á caixa; se o teu router ten unha opción chamada UPnP ou NAT-PMP (abrir portas automaticamente), actívaa.
dash-reach-open = O teu router deixa entrar os oíntes: { $open } de { $total } portas abertas.
dash-reach-address = Enderezo en internet: { $ip }
dash-reach-door-open = Porto { $port } ({ $what }): aberto
dash-reach-door-moved = Porto { $port } ({ $what }): aberto, desde internet chégase polo porto { $external }
dash-reach-refused-not-allowed = O teu router dixo que non ao porto { $port } ({ $what }): as súas regras non llo permiten a esta caixa.
dash-reach-refused-taken = O teu router dixo que non ao porto { $port } ({ $what }): outro aparello xa o está a usar.
dash-reach-refused-other = O teu router dixo que non ao porto { $port } ({ $what }): { $reason }
dash-reach-trying = Porto { $port } ({ $what }): preguntando…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = Que podes facer: abre a páxina de axustes do teu router (o seu enderezo adoita vir nunha etiqueta debaixo do aparello), busca «redirección de portos» e envía a esta caixa ({ $address }) estes portos: { $ports }. Se o router o xestiona a túa compañía de internet, chámaos e pídelles que o fagan. Mentres tanto a caixa segue funcionando, pero pode que os oíntes de fóra da casa non cheguen a ela.
dash-reach-by-hand-no-address = Que podes facer: abre a páxina de axustes do teu router (o seu enderezo adoita vir nunha etiqueta debaixo do aparello), busca «redirección de portos» e envía a esta caixa estes portos: { $ports }. Se o router o xestiona a túa compañía de internet, chámaos e pídelles que o fagan. Mentres tanto a caixa segue funcionando, pero pode que os oíntes de fóra da casa non cheguen a ela.
dash-reach-what-peers = para compartir con programas BitTorrent
dash-reach-what-udp-tracker = punto de encontro dos programas BitTorrent
dash-reach-what-web = páxinas e episodios
dash-reach-what-https = páxinas seguras
dash-reach-what-stun = para que os oíntes se atopen entre si
# O cadeado do navegador (https): o certificado que a caixa pide e renova soa.
dash-https-title = Cadeado do navegador (https)
dash-https-valid = O certificado do cadeado vale ata o { $date }.
dash-https-renews = A caixa renóvao soa antes de que caduque.
dash-https-files = É o certificado dos ficheiros postos na configuración: cámbiaos antes desa data.
dash-https-expired = O certificado do cadeado caducou o { $date }.
dash-https-waiting = A caixa está a pedir o certificado do cadeado para { $name }. Mentres tanto, a radio funciona sen cadeado.
dash-https-problem-challenge = O servizo de certificados non puido chegar á caixa co nome { $name }. Comproba que ese nome leva ao enderezo de internet da túa casa e que o teu router deixa pasar cara á caixa os portos 80 e 443.
dash-https-problem-unreachable = A caixa non consegue falar co servizo de certificados. Comproba que a caixa ten internet.
dash-https-problem-refused = O servizo de certificados non deu o certificado polo de agora (por exemplo, porque se pediu demasiadas veces).
dash-https-problem-storage = A caixa non puido ler ou gardar o certificado na súa memoria.
dash-https-problem-bad = O certificado non se pode usar: está danado ou non é dun tipo que a caixa entenda.
dash-https-retry = A caixa volverá intentalo soa. Mentres tanto, a radio segue funcionando sen cadeado.
dash-https-files-retry = A caixa segue usando o certificado que tiña e volve ler os ficheiros en canto cambian.
dash-https-detail = Detalle técnico (para quen te axude)

## Music between shows: the tracks the fallback plays
dash-music-title = Música entre programas
dash-music-hint = Marca as pistas que a caixa pon, en orde aleatoria, cando ninguén está en directo. Se non marcas ningunha, pon o cartafol escollido na páxina Técnico ou toda a biblioteca.
dash-music-empty = Aínda non hai música na biblioteca: os ficheiros de audio que poñas nun cartafol da biblioteca aparecerán aquí.
dash-music-count = Marcadas: { $n } de { $total }
dash-music-save = Gardar a lista
dash-done-music = Lista de música entre programas gardada.

## Sending the stream on to Icecast servers
dash-push = Enviar tamén a emisión a servidores Icecast
dash-push-hint = Un servidor por liña, tal como cho dá quen o xestiona: icecast://source:CONTRASINAL@SERVIDOR:PORTO/PUNTO. Un punto de montaxe que remata en .ogg recibe a emisión Opus; calquera outro, a MP3 (ou escribe ogg ou mp3 despois do enderezo). Ao gardar, a emisión reiníciase un momento.
dash-stat-pushes = Enviada tamén a
dash-push-sending = { $server }: enviando
dash-push-connecting = { $server }: conectando…
dash-push-failed = { $server }: non se alcanza (mira o aviso de arriba)

# System updates (the Updates card)
dash-update-title = Actualizacións
dash-update-running = Esta caixa funciona coa versión { $version }.
dash-update-available = A versión { $version } está lista para instalar ({ $size } de descarga).
dash-update-notes = Novidades da versión { $version }
dash-update-check-failed = A última busca dunha versión nova non funcionou: { $why }
dash-update-newest = É a versión máis recente.
dash-update-never-checked = Aínda non se buscou unha versión nova.
dash-update-checking = Buscando unha versión nova…
dash-update-downloading = Descargando a versión { $version }: { $done } de { $total }. A emisora segue no aire.
dash-update-installing = Instalando a versión { $version }: { $percent } %. A emisora segue no aire.
dash-update-waiting = A versión { $version } está instalada. A caixa reiníciase con ela no próximo momento tranquilo: un minuto fóra do aire, máis ou menos.
dash-update-restarting = Reiniciando coa versión { $version }. A emisora volve ao aire nun minuto, máis ou menos.
dash-update-checked = Última busca: { $when }.
dash-update-details = Detalles
dash-update-last-updated = Última actualización: á versión { $version }, { $when }. Saíu ben.
dash-update-last-rolled-back = A versión { $version } instalouse pero non arrincou ben ({ $why }), así que a caixa volveu soa á versión { $back }, { $when }. Non volverá instalar esa versión a menos que premas «Actualizar agora».
dash-update-last-failed = A versión { $version } non se instalou, { $when }: { $why } Non cambiou nada na caixa.
dash-update-why-unreachable = non se puido chegar ao servidor de actualizacións.
dash-update-why-not-signed = non está asinada polo proxecto streamp2p, así que se rexeitou.
dash-update-why-other-box = está feita para outro tipo de caixa, así que se rexeitou.
dash-update-why-damaged = a descarga chegou danada.
dash-update-why-no-space = non hai espazo libre dabondo (fan falta { $need }, hai { $free } libres).
dash-update-why-install = o instalador detívose cun erro.
dash-update-why-never-healthy = a versión nova non respondeu a tempo
dash-update-auto = As versións novas instálanse soas e a caixa reiníciase con elas nun momento tranquilo: nunca durante un programa en directo da grella nin cun ordenador do estudio conectado.
dash-update-manual = As versións novas só se instalan cando premes «Actualizar agora».
dash-update-make-manual = Só cando prema «Actualizar agora»
dash-update-make-automatic = Instalar soas as versións novas
dash-update-now = Actualizar agora
dash-update-check = Buscar agora
dash-done-update = A actualización comezou. Esta tarxeta mostra como vai; a caixa reiníciase cando estea instalada.
dash-done-update-check = Buscando unha versión nova.
dash-done-usb = Feito. Quen escoita verá o cambio nuns segundos.
