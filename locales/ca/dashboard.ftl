# El tauler (/admin un cop dins): cada secció, els avisos i les alertes, i les paraules que
# escriu el seu script.

# Títol de la pàgina, capçalera i enllaços a les seccions.
dash-title = { $station } – configuració
dash-log-out = Surt
dash-nav = Seccions
dash-task-home = Inici
dash-task-sound = So i directe
dash-task-episodes = Episodis
dash-task-schedule = Programació
dash-task-share = Comparteix
dash-task-storage = USB i emmagatzematge
dash-task-sisters = Emissores germanes
dash-task-settings = Configuració
dash-task-technical = Tècnic
dash-task-title = { $task } · { $station }
dash-welcome-step = Pas { $n } de { $of }
dash-welcome-sound-title = D'on ve el so?
dash-welcome-sound = Tria l'entrada de so i desa. Les barres es mouen amb el so que entra, i Escolta posa el que sentirà la gent.
dash-welcome-share-title = Com arribarà la gent a l'emissora?
dash-welcome-share = Qui sigui en aquesta wifi ja pot obrir els enllaços de sota. Perquè t'escoltin des de qualsevol lloc, escriu l'adreça pública de la caixa (la del teu router d'internet o el teu domini) a Adreça pública, o deixa-ho per més tard.
dash-welcome-next = Següent
dash-welcome-finish = Acaba
dash-back-home = ‹ Inici
dash-sound-title = Entrada de so i directe
dash-swarm-title = Xifres del que es comparteix
dash-technical-title = Configuració tècnica

# El que ha fet l'últim canvi (avís verd a dalt).
dash-done-saved = Desat. El canvi ja funciona.
dash-done-restarting = Desat. La ràdio reinicia el so i la biblioteca per aplicar-lo: torna d'aquí a uns segons.
dash-done-schedule = Graella desada; les properes gravacions portaran el nom dels seus programes.
dash-done-episode = S'han desat el títol i les notes de l'episodi.
dash-done-mirror-approved = Còpia aprovada: les aplicacions dels oients ja hi poden descarregar.
dash-done-mirror-removed = Còpia treta. No torna a la llista fins que la permetis a Ràdios germanes.
dash-done-mirror-allowed = Aquella caixa podrà tornar a copiar aquesta ràdio quan ho demostri.

# Alertes (en vermell, a dalt): què passa i què cal fer.
dash-warn-settings-unreadable = No es poden llegir els ajustos desats i la caixa funciona amb els de fàbrica. Torna'ls a desar a Configuració.
dash-warn-settings-unusable = Els ajustos desats no s'han pogut fer servir ({ $problem }; { $fix }), així que la caixa funciona amb els de fàbrica fins que els canviïs a Configuració.
dash-warn-usb-removed = { $n ->
    [one] Memòria USB { $label } retirada: el seu episodi és fora de línia fins que torni.
   *[other] Memòria USB { $label } retirada: els seus { $n } episodis són fora de línia fins que torni.
}
dash-warn-no-input = No entra so: la targeta de so no respon. Comprova que està connectada; la caixa ho torna a provar cada pocs segons i torna a l'aire sola.
dash-warn-silence = { $secs ->
    [one] Silenci a l'antena fa 1 segon. Té la sortida de la taula silenciada o el fader abaixat?
   *[other] Silenci a l'antena fa { $secs } segons. Té la sortida de la taula silenciada o el fader abaixat?
}
dash-warn-push-unreachable = No es pot arribar al servidor Icecast { $server }. La caixa ho torna a provar sola d'aquí a { $secs } s.
dash-warn-push-refused = El servidor Icecast { $server } ha rebutjat l'emissió. Reviseu-ne la contrasenya i el punt de muntatge a la configuració de la caixa.
dash-warn-push-dropped = S'ha tallat l'emissió cap al servidor Icecast { $server }. La caixa la torna a enviar d'aquí a { $secs } s.
dash-warn-overflow = La connexió a internet de la caixa és plena. Els nous oients que fan servir aplicacions de ràdio o l'enllaç directe de l'emissió van ara al servidor Icecast { $server } (enviats fins ara: { $n }). Els qui ja escolten s'hi queden. S'atura sol quan torna a haver-hi lloc.
dash-warn-full-no-relay = La connexió a internet de la caixa és plena: els oients que fan servir aplicacions de ràdio o l'enllaç directe de l'emissió poden sentir talls. Per enviar els nous a un altre lloc quan passi, afegeix un servidor Icecast a «Envia també l'emissió a servidors Icecast».
dash-warn-usb-missing = Falta el disc USB: { $path }. Torna'l a connectar: els seus episodis tornen sense haver-los de llegir de nou.
dash-warn-disk-full = La memòria de la caixa és gairebé plena (en queden { $free }). Esborra gravacions o pujades antigues, o fes servir una targeta més gran.
dash-warn-disk-hours = Al ritme actual l'emmagatzematge de la caixa s'omple d'aquí a unes { $hours } hores, i no queda cap enregistrament antic que pugui esborrar. Esborreu pujades, desmarqueu «conserva» en enregistraments antics o feu servir una targeta més gran.
dash-warn-recorder-paused = L'enregistrament està en pausa: l'emmagatzematge de la caixa és ple. L'emissió continua. Allibereu espai i l'enregistrament torna a començar sol.
dash-warn-browser-tracker = Ara mateix qui escolta des del navegador no es pot trobar: la caixa no arriba al seu punt de trobada. Comprova la connexió a internet de la caixa.
dash-warn-unreadable = { $n ->
    [one] No s'ha pogut llegir 1 fitxer de la biblioteca; apareix a Biblioteca. Els altres estan bé.
   *[other] No s'han pogut llegir { $n } fitxers de la biblioteca; apareixen a Biblioteca. Els altres estan bé.
}

# En directe: estat, mesurador de nivell, oients i gràfiques del dia.
dash-air-title = En directe
dash-air-line-in = En directe des de l'entrada de línia
dash-air-test-tone = To de prova, no la teva taula de mescles
dash-air-silent = Silenci des de fa { $minutes } min: revisa la taula
dash-air-studio = En directe des de l'ordinador de l'estudi
dash-air-music = Música de la biblioteca: ningú en directe
dash-air-dead = Surt silenci: no entra so i no hi ha música per posar
dash-air-starting = Engegant
dash-air-no-card = No hi ha targeta de so: comprova que està connectada
dash-air-off = Sense entrada de directe
dash-meter-quiet = Nivell de so: encara no entra so
dash-meter-now = Nivell de so: esquerre { $left } dB, dret { $right } dB
dash-level-title = Com sona ara
dash-meter-hint = Les barres es mouen amb el so que entra. El verd és correcte; el vermell vol dir massa fort: abaixa una mica la sortida de la taula.
dash-meter-word-none = Encara no hi ha so
dash-meter-word-quiet = Massa baix: puja la taula
dash-meter-word-good = Bé
dash-meter-word-loud = Massa alt: abaixa la taula
dash-listen = Escolta
dash-listen-stop = Deixa d'escoltar
dash-air-off-hint = Per sortir en directe, tria l'entrada de so a
dash-stat-listeners = Escoltant ara
dash-stat-room = Hi caben més oients
dash-room = { $n ->
    [0] Ara no hi caben més oients.
    [one] Hi cap 1 oient més.
   *[other] Hi caben uns { $more } oients més.
} La caixa envia ara { $now }; el màxim que ha enviat en dos dies és { $best }.
dash-room-unknown = Encara no se sap: la caixa aprèn quant pot enviar a partir del que envia als oients.
dash-stat-yesterday = Ahir
dash-yesterday-peak = fins a { $peak } alhora, cap a les { $time }
dash-yesterday-nobody = no va escoltar ningú
dash-yesterday-none = sense dades d'aquell dia
dash-stat-ways = Com escolten
dash-stat-p2p = Compartint als navegadors
dash-stat-uptime = En marxa des de fa
dash-listen-ways = Emissió: { $stream } · Reproductors: { $players } (compartint: { $sharing })
dash-two-days = Avui i ahir
dash-chart-today = Avui
dash-plays-download = Baixa el que ha sonat (últims 90 dies, per a les entitats de gestió)
dash-graph-listeners = Oients
dash-graph-upload = Enviament als oients
dash-chart-listeners-today = Oients avui: fins a { $peak } alhora, ara { $now }.
dash-chart-upload-today = Enviament als oients avui: fins a { $peak }, ara { $now }.
dash-chart-today-none = Encara no hi ha dades d'avui: s'hi afegeix un punt cada minut.
dash-chart-yesterday = Ahir: fins a { $peak }.
dash-chart-yesterday-none = No hi ha dades d'ahir.

# Biblioteca: episodis compartits, fitxers en lectura, emmagatzematge, fitxers il·legibles.
dash-library-title = Biblioteca
dash-library-items = Episodis compartits:
dash-hashing = Llegint fitxers nous:
dash-hashing-progress = { $done } de { $total } fitxers ({ $bytes_done } de { $bytes_total })
dash-hashing-hint = Cada fitxer nou es llegeix una vegada per preparar-lo per compartir; una biblioteca gran triga una estona la primera vegada.
dash-stat-peers = Compartint amb
dash-stat-upload = Enviant ara
dash-stat-tracker = Punt de trobada
dash-tracker-line = Episodis: { $swarms } · Dispositius: { $peers }
dash-storage = Emmagatzematge
dash-storage-missing = no hi és (desconnectat?)
dash-storage-free = connectat, { $free } lliures
dash-storage-present = connectat
dash-storage-none = No hi ha cap carpeta de biblioteca: afegeix-ne una a Configuració.
dash-problems = Fitxers que no s'han pogut llegir
dash-problem-link-outside = és una drecera a un lloc fora de la biblioteca; copia-hi el fitxer mateix
dash-problem-link-loop = és una drecera a una carpeta que torna sobre si mateixa
dash-problem-link-nowhere = és una drecera a un fitxer que ja no hi és
dash-problem-name = el nom té caràcters que la caixa no pot llegir; canvia-li el nom
dash-problem-not-a-file = no és un fitxer normal
dash-problem-empty = el fitxer és buit; torna'l a copiar
dash-problem-unreadable = la caixa no el pot llegir: pot estar malmès o la memòria USB pot fallar; torna'l a copiar
dash-problem-changed = ha canviat mentre es llegia (s'estava copiant?); la caixa ho torna a provar sola
dash-problem-not-recorded = la caixa no l'ha pogut anotar a la seva memòria; ho torna a provar a la propera revisió

# Publica un episodi (el formulari de pujada i el que escriu el seu script).
dash-publish-title = Publica un episodi
dash-upload-file = Fitxer d'àudio (MP3, Ogg, Opus, FLAC, WAV o M4A, fins a { $max })
dash-field-title = Títol
dash-field-notes = Notes
dash-field-keep = Conserva aquest enregistrament (no s'esborra mai per fer lloc)
dash-upload-submit = Publica
dash-upload-hint = Si cau la wifi, torna a triar el mateix fitxer: la pujada continua on s'havia aturat.
dash-js-choose-file = Primer tria un fitxer.
dash-js-sending = Enviant: { $done } de { $total }
dash-js-retry = S'ha perdut la connexió; s'està tornant a provar ({ $n })…
dash-js-published = Publicat. La caixa l'està preparant per compartir; sortirà a la llista d'aquí a un minut.
dash-js-error = Alguna cosa ha fallat (error { $status }).

# Comparteix: les adreces per difondre, amb els seus codis QR.
dash-share-title = Comparteix
dash-share-anyone = Qualsevol persona a internet pot obrir això
dash-share-this-wifi = Ho pot obrir la gent d'aquesta wifi
dash-share-no-public = Ningú de fora d'aquesta wifi pot obrir l'emissora encara: la caixa no té adreça pública.
dash-share-set-public = Posa l'adreça pública
dash-share-none = Encara no hi ha cap adreça per compartir: les pàgines només responen en aquest ordinador.
dash-share-button = Comparteix…
dash-share-more = Més enllaços: directe i feed del pòdcast
dash-share-live = Directe
dash-share-feed = Pòdcast
dash-share-qr = Codi QR de: { $what }
dash-share-address = Adreça de: { $what }
dash-copy = Copia
dash-js-copied = Copiat
dash-js-selected = Seleccionat: copia-ho

# Episodis: edita el títol i les notes de cadascun.
dash-episodes-title = Episodis
dash-episode-edit = Edita
dash-episode-page = Pàgina per als oients
dash-save = Desa
dash-copy-magnet = Copia l'enllaç magnet
dash-qr-code = Codi QR
dash-episodes-none = Encara no hi ha episodis.

# Graella setmanal.
dash-schedule-title = Graella setmanal
dash-schedule-hint = Les gravacions porten el nom del programa que és a l'aire; les franges de música de la biblioteca no es graven. Buida el nom d'un programa per treure'l; l'última fila n'afegeix un.
dash-show = Programa
dash-show-new = Programa nou
dash-show-day = Dia
dash-show-start = Comença
dash-show-end = Acaba
dash-show-kind = A l'aire
dash-show-kind-live = En directe (taula o ordinador de l'estudi)
dash-show-kind-playlist = Música de la biblioteca
dash-schedule-save = Desa la graella
dash-logo-title = Logo de la ràdio
dash-logo-now = El logo de la ràdio ara
dash-logo-hint = El mostren les apps de pòdcast, els directoris i les pantalles d'inici dels mòbils. Una imatge quadrada queda millor: de qualsevol altra se'n fa servir el quadrat del centre. Una foto del mòbil ja va bé (JPEG, PNG o WebP).
dash-logo-file = Imatge
dash-logo-submit = Fes servir aquesta imatge
dash-logo-remove = Torna al logo dibuixat
dash-done-logo = El logo nou ja hi és. Les apps de pòdcast el recullen a la propera visita.
dash-done-logo-removed = Torna a haver-hi el logo dibuixat.

# Ràdios germanes: la clau d'aquesta caixa, les ràdios que segueix.
dash-sisters-title = Ràdios germanes
dash-key = Clau d'aquesta caixa:
dash-key-hint = Les ràdios que segueixen aquesta comproven la seva llista d'episodis amb aquesta clau. Llegeix-los-la per comparar-la. Desa'n una còpia: una caixa de recanvi amb la mateixa clau és de confiança des del primer moment.
dash-key-download = Desa una còpia de la clau
dash-follows = Ràdios que segueix aquesta caixa
dash-follow-key = Clau: { $key }
dash-follow-key-unseen = Clau: encara no vista
dash-follow-retry = proper intent d'aquí a { $secs } s
dash-follow-mirrored = Episodis copiats aquí: { $mirrored } de { $items }
dash-follow-pending = Encara no s'hi ha contactat.
dash-follow-claim-ok = Aquella ràdio té aquesta caixa a la seva llista de còpies.
dash-follow-claim-refused = Aquella ràdio encara no té aquesta caixa a la seva llista de còpies. Ha respost: { $why }
dash-follows-none = Cap encara: escriu l'adreça d'una ràdio a sota.
dash-follow-unreachable = La ràdio no respon. Comprova la seva adreça i la connexió a internet d'aquesta caixa.
dash-follow-refused = No es pot fer servir aquesta adreça: { $why }
dash-follow-not-station = Aquesta adreça no respon com la caixa d'una ràdio.
dash-follow-key-changed = La ràdio ara signa amb una clau diferent de la que es va veure la primera vegada. Si ha canviat de caixa, qui la porta ha de carregar la clau antiga a la nova.
dash-follow-old-list = La ràdio ha enviat una llista d'episodis més antiga que una altra ja vista.
dash-follow-local = Aquesta caixa no ha pogut desar el que ha llegit: { $why }

# Caixes que copien aquesta ràdio, i com ha anat la seva última comprovació.
dash-mirrors-title = Caixes que copien aquesta ràdio
dash-mirrors-hint = Una caixa només surt com a còpia després que aquesta caixa n'hagi descarregat trossos a l'atzar dels episodis que té i hagi comprovat que són iguals que aquí. Cadascuna es torna a comprovar sovint i es treu si falla.
dash-mirrors-approval = A més, les còpies noves esperen la teva aprovació (Configuració).
dash-mirror-listed = { $n ->
    [one] A la llista per a 1 episodi.
   *[other] A la llista per a { $n } episodis.
}
dash-mirror-waiting = { $n ->
    [one] Té 1 episodi; espera la teva aprovació.
   *[other] Té { $n } episodis; espera la teva aprovació.
}
dash-mirror-dropped = Fora de la llista: ha fallat l'última comprovació.
dash-mirror-checked = Comprovada { $ago }: { $result }.
dash-mirror-passed = Última vegada que l'ha superada: { $ago }.
dash-check-matched = { $pieces ->
    [one] el tros demanat a l'atzar és igual que la còpia d'aquesta ràdio
   *[other] els { $pieces } trossos demanats a l'atzar són iguals que la còpia d'aquesta ràdio
}
dash-check-wrong = el tros { $piece } de «{ $name }» no és igual que la còpia d'aquesta ràdio
dash-check-unanswered = no ha lliurat un tros de «{ $name }»
dash-check-nothing = no té cap episodi d'aquesta ràdio
dash-check-unreachable = la seva adreça no respon
dash-check-not-station = la seva adreça no respon com la caixa d'una ràdio
dash-check-bad-address = la seva adreça no és vàlida
dash-check-too-slow = ha trigat massa a lliurar els trossos demanats
dash-approve = Aprova
dash-remove = Treu
dash-mirrors-none = Cap encara.
dash-removed-title = Còpies tretes
dash-removed-hint = Aquestes caixes no surten a la llista, diguin el que diguin, fins que les tornis a permetre.
dash-removed-at = treta { $ago }
dash-allow = Torna a permetre

# Punts de trobada (trackers) i la clau d'una caixa antiga.
dash-trackers-title = Punts de trobada (trackers)
dash-trackers-hint = Els punts de trobada ajuden els oients a trobar-se. La caixa en comprova cadascun cada pocs minuts; els enllaços posen primer els que funcionen.
dash-tracker-dead = No respon: queda fora dels enllaços.
dash-tracker-ok = respon el { $percent } %
dash-tracker-ok-ms = respon el { $percent } %, { $ms } ms
dash-trackers-none = Cap de fora per ara. El punt de trobada de la mateixa caixa sempre funciona; els de fora es comproven uns minuts després d'afegir-los.
dash-key-old = Fes servir la clau d'una caixa antiga
dash-key-saved = Clau desada
dash-key-use = Fes servir aquesta clau

# Configuració.
dash-settings-title = Configuració
dash-about = Sobre la ràdio
dash-audio = Entrada de so
dash-audio-none = Sense directe
dash-audio-sine = To de prova
dash-audio-hint = Després de desar, mira com es mouen les barres de nivell de dalt amb la taula.
dash-bitrate = Qualitat de l'emissió (kbit/s; 128 està bé, 64 estalvia dades)
dash-source-password = Contrasenya de l'estudi (per a BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = El programa de l'estudi envia la seva emissió a aquesta caixa com a un servidor Icecast: adreça { $url }, usuari «source», aquesta contrasenya. Llavors surt en antena abans que l'entrada de línia. Buida: cap estudi no s'hi pot connectar.
dash-fallback-folder = Música entre programes: carpeta de la biblioteca
dash-fallback-folder-hint = Quan ningú no és en directe, la caixa posa aquesta carpeta de la biblioteca, en ordre aleatori. Buida: tota la biblioteca.
dash-fallback-whole-library = (tota la biblioteca)
dash-library-folders = Carpetes de la biblioteca (una per línia)
dash-usb-title = Memòries USB
dash-usb-none = No hi ha cap memòria USB connectada.
dash-usb-root = Les memòries USB són a { $folder }: cada carpeta d'allà és una memòria.
dash-usb-away = { $n ->
    [one] retirada: 1 episodi fora de línia fins que torni
   *[other] retirada: { $n } episodis fora de línia fins que torni
}
dash-usb-stopped = { $n ->
    [one] sense compartir: 1 episodi fora de línia
   *[other] sense compartir: { $n } episodis fora de línia
}
dash-usb-shared = { $n ->
    [one] 1 fitxer d'àudio, compartit
   *[other] { $n } fitxers d'àudio, compartits
}
dash-usb-space = { $size }, { $free } lliures
dash-usb-stop = Deixa de compartir
dash-usb-resume = Torna a compartir
dash-usb-skipped = { $n ->
    [one] 1 fitxer no s'ha pogut llegir
   *[other] { $n } fitxers no s'han pogut llegir
}: mira per què
dash-usb-hint = Una memòria es comparteix tan bon punt es connecta. Si en deixes de compartir una, continua així, pel seu nom, encara que la retiris.
dash-upload-limit = Límit d'enviament (KiB/s, 0 = sense límit; abaixa'l si internet de casa va lent)
dash-extra-trackers = Més punts de trobada (trackers, un per línia)
dash-public-title = Perquè t'escoltin des de qualsevol lloc
dash-public-url = Adreça pública (la del teu router d'internet o el teu domini)
dash-max-upload = Pujada màxima (MB)
dash-follow-title = Seguir altres ràdios
dash-follow-field = Ràdios germanes per seguir i copiar (una adreça per línia)
dash-approve-mirrors = Les còpies noves d'aquesta ràdio necessiten la meva aprovació abans de sortir a la llista
dash-remote-admin = Permet aquesta pàgina des de fora de la xarxa local (només amb una contrasenya forta)

# El router de casa obre les portes de la caixa cap a internet (system::portmap).
dash-reach-title = Accés des d'internet
dash-reach-hint = El router és l'aparell que connecta casa teva a internet. La caixa li demana que obri unes quantes portes (ports) perquè els oients i altres emissores de fora hi puguin arribar.
dash-reach-searching = S'està demanant al router que obri les portes…
dash-reach-no-router = Cap router no ha respost. Potser els oients de fora de casa no arriben a la caixa; si el router té una opció anomenada UPnP o NAT-PMP (obrir portes automàticament), activa-la.
dash-reach-open = El teu router deixa entrar els oients: { $open } de { $total } portes obertes.
dash-reach-address = Adreça a internet: { $ip }
dash-reach-door-open = Port { $port } ({ $what }): obert
dash-reach-door-moved = Port { $port } ({ $what }): obert, des d'internet s'hi arriba pel port { $external }
dash-reach-refused-not-allowed = El teu router ha dit que no al port { $port } ({ $what }): les seves regles no ho permeten a aquesta caixa.
dash-reach-refused-taken = El teu router ha dit que no al port { $port } ({ $what }): un altre aparell ja l'està fent servir.
dash-reach-refused-other = El teu router ha dit que no al port { $port } ({ $what }): { $reason }
dash-reach-trying = Port { $port } ({ $what }): s'està preguntant…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = Què pots fer: obre la pàgina de configuració del router (l'adreça sol ser en una etiqueta a sota de l'aparell), busca «redirecció de ports» i envia a aquesta caixa ({ $address }) aquests ports: { $ports }. Si el router el gestiona la teva companyia d'internet, truca-hi i demana que ho facin. Mentrestant la caixa continua funcionant, però potser els oients de fora de casa no hi arriben.
dash-reach-by-hand-no-address = Què pots fer: obre la pàgina de configuració del router (l'adreça sol ser en una etiqueta a sota de l'aparell), busca «redirecció de ports» i envia a aquesta caixa aquests ports: { $ports }. Si el router el gestiona la teva companyia d'internet, truca-hi i demana que ho facin. Mentrestant la caixa continua funcionant, però potser els oients de fora de casa no hi arriben.
dash-reach-what-peers = per compartir amb programes BitTorrent
dash-reach-what-udp-tracker = punt de trobada dels programes BitTorrent
dash-reach-what-web = pàgines i episodis
dash-reach-what-https = pàgines segures
dash-reach-what-stun = perquè els oients es trobin entre ells
# El cadenat del navegador (https): el certificat que la caixa demana i renova sola.
dash-https-title = Cadenat del navegador (https)
dash-https-valid = Data de caducitat del certificat del cadenat: { $date }.
dash-https-renews = La caixa el renova sola abans que caduqui.
dash-https-files = És el certificat dels fitxers posats a la configuració: canvia'ls abans d'aquesta data.
dash-https-expired = El certificat del cadenat ha caducat ({ $date }).
dash-https-waiting = La caixa està demanant el certificat del cadenat per a { $name }. Mentrestant, la ràdio funciona sense cadenat.
dash-https-problem-challenge = El servei de certificats no ha pogut arribar a la caixa amb el nom { $name }. Comprova que aquest nom porta a l'adreça d'internet de casa teva i que el router deixa passar cap a la caixa els ports 80 i 443.
dash-https-problem-unreachable = La caixa no aconsegueix parlar amb el servei de certificats. Comprova que la caixa té internet.
dash-https-problem-refused = El servei de certificats no ha donat el certificat de moment (per exemple, perquè s'ha demanat massa vegades).
dash-https-problem-storage = La caixa no ha pogut llegir o desar el certificat a la seva memòria.
dash-https-problem-bad = El certificat no es pot fer servir: està malmès o no és d'un tipus que la caixa entengui.
dash-https-retry = La caixa ho tornarà a provar sola. Mentrestant, la ràdio continua funcionant sense cadenat.
dash-https-files-retry = La caixa continua fent servir el certificat que tenia i torna a llegir els fitxers tan bon punt canvien.
dash-https-detail = Detall tècnic (per a qui t'ajudi)

## Music between shows: the tracks the fallback plays
dash-music-title = Música entre programes
dash-music-hint = Marca les pistes que la caixa posa, en ordre aleatori, quan ningú no és en directe. Si no en marques cap, posa la carpeta triada a la pàgina Tècnic o tota la biblioteca.
dash-music-empty = Encara no hi ha música a la biblioteca: els fitxers d'àudio que posis en una carpeta de la biblioteca apareixeran aquí.
dash-music-count = Marcades: { $n } de { $total }
dash-music-save = Desa la llista
dash-done-music = Llista de música entre programes desada.

## Sending the stream on to Icecast servers
dash-push = Envia també l'emissió a servidors Icecast
dash-push-hint = Un servidor per línia, tal com te'l dona qui el gestiona: icecast://source:CONTRASENYA@SERVIDOR:PORT/PUNT. Un punt de muntatge que acaba en .ogg rep l'emissió Opus; qualsevol altre, la MP3 (o escriu ogg o mp3 després de l'adreça). En desar, l'emissió es reinicia un moment.
dash-stat-pushes = Enviada també a
dash-push-sending = { $server }: enviant
dash-push-connecting = { $server }: connectant…
dash-push-failed = { $server }: no s'hi arriba (mira l'avís de dalt)

# System updates (the Updates card)
dash-update-title = Actualitzacions
dash-update-running = Aquesta caixa funciona amb la versió { $version }.
dash-update-available = La versió { $version } està a punt per instal·lar ({ $size } de descàrrega).
dash-update-notes = Novetats de la versió { $version }
dash-update-check-failed = L’última cerca d’una versió nova no ha funcionat: { $why }
dash-update-newest = És la versió més recent.
dash-update-never-checked = Encara no s’ha cercat cap versió nova.
dash-update-checking = Cercant una versió nova…
dash-update-downloading = Baixant la versió { $version }: { $done } de { $total }. L’emissora continua en antena.
dash-update-installing = Instal·lant la versió { $version }: { $percent } %. L’emissora continua en antena.
dash-update-waiting = La versió { $version } està instal·lada. La caixa es reinicia amb ella al proper moment tranquil: més o menys un minut fora d’antena.
dash-update-restarting = Reiniciant amb la versió { $version }. L’emissora torna a l’antena d’aquí a un minut, més o menys.
dash-update-checked = Última cerca: { $when }.
dash-update-details = Detalls
dash-update-last-updated = Última actualització: a la versió { $version }, { $when }. Ha anat bé.
dash-update-last-rolled-back = La versió { $version } es va instal·lar però no va arrencar bé ({ $why }), així que la caixa va tornar sola a la versió { $back }, { $when }. No tornarà a instal·lar aquesta versió si no prems «Actualitza ara».
dash-update-last-failed = La versió { $version } no es va instal·lar, { $when }: { $why } No ha canviat res a la caixa.
dash-update-why-unreachable = no s’ha pogut arribar al servidor d’actualitzacions.
dash-update-why-not-signed = no està signada pel projecte streamp2p, així que s’ha rebutjat.
dash-update-why-other-box = està feta per a un altre tipus de caixa, així que s’ha rebutjat.
dash-update-why-damaged = la baixada ha arribat malmesa.
dash-update-why-no-space = no hi ha prou espai lliure (calen { $need }, n’hi ha { $free } de lliures).
dash-update-why-install = l’instal·lador s’ha aturat amb un error.
dash-update-why-never-healthy = la versió nova no ha respost a temps
dash-update-auto = Les versions noves s’instal·len soles i la caixa s’hi reinicia en un moment tranquil: mai durant un programa en directe de la graella ni amb un ordinador de l’estudi connectat.
dash-update-manual = Les versions noves només s’instal·len quan prems «Actualitza ara».
dash-update-make-manual = Només quan premi «Actualitza ara»
dash-update-make-automatic = Instal·lar soles les versions noves
dash-update-now = Actualitza ara
dash-update-check = Cerca ara
dash-done-update = L’actualització ha començat. Aquesta targeta mostra com va; la caixa es reinicia quan estigui instal·lada.
dash-done-update-check = Cercant una versió nova.
dash-done-usb = Fet. Els oients veuran el canvi en uns segons.
