# A páxina de configuración: o marco, a primeira posta en marcha, a entrada, as mensaxes dos
# formularios e as páxinas de erro. As partes config-… e schedule-… son anacos de frase
# (comezan en minúscula e sen punto final): a páxina xúntaos en frases.

# A barra de todas as páxinas de configuración: o selector de idioma e a guía.
admin-frame-label = Idioma e axuda
admin-guide-link = Guía de uso

# Primeira posta en marcha.
admin-setup-page-title = Pon en marcha a túa radio
admin-setup-title = Benvida
admin-setup-intro = Só quen saiba este contrasinal poderá cambiar a radio. Gárdao nun lugar seguro.
admin-setup-language = Esta caixa emite a túa radio, garda o seu arquivo e compárteo. En que lingua queres as súas páxinas?
admin-setup-name-title = Como se chama a túa radio?
admin-setup-name-hint = A xente verao na páxina para escoitar e nas súas aplicacións de podcast.
admin-setup-password-title = Escolle un contrasinal para esta páxina
admin-setup-change = Cambiar
admin-password-new = Contrasinal (mínimo 8 caracteres)
admin-password-again = Repite o contrasinal
admin-setup-submit = Gardar e comezar

# Os datos da radio, na posta en marcha e en Axustes.
admin-station-name = Nome da radio
admin-station-language = Idioma da radio
admin-station-language-hint = Úsase no podcast e nos títulos das gravacións. Cada visitante segue a ver estas páxinas no seu idioma.

# Entrada.
admin-login-page-title = Entrar
admin-login-title = Axustes da radio
admin-password = Contrasinal
admin-login-submit = Entrar
admin-login-forgot = Esquecíchelo? A guía explica que se pode facer.
admin-login-forgot-link = Ler a guía
admin-login-limit = Tras cinco intentos errados, esta páxina agarda dez minutos.
admin-wrong-password = Contrasinal incorrecto. Revísao e téntao de novo.
admin-locked = { $minutes ->
    [one] Demasiados contrasinais incorrectos: téntao de novo dentro de 1 minuto.
   *[other] Demasiados contrasinais incorrectos: téntao de novo dentro de { $minutes } minutos.
}
admin-password-too-short = O contrasinal debe ter polo menos 8 caracteres.
admin-password-too-long = O contrasinal ten máis de 200 caracteres.
admin-password-mismatch = Os dous contrasinais non coinciden. Escríbeos outra vez.

# Mensaxes xunto a un campo dun formulario.
admin-form-store = A caixa non puido gardar isto (mira o seu rexistro). Téntao de novo nun momento.
admin-logo-none = Escolle primeiro unha imaxe.
admin-logo-unreadable = Este ficheiro non é unha imaxe que a caixa saiba ler. Envía unha imaxe JPEG, PNG ou WebP.
admin-logo-too-big = O ficheiro pasa de { $mb } MB. Envía unha imaxe máis pequena.
admin-logo-too-large = A imaxe mide { $width } × { $height } píxeles; a caixa acepta como moito 10000 por lado. Envía unha máis pequena.
admin-logo-too-small = A imaxe mide { $width } × { $height } píxeles; veríase borrosa. Envía unha de polo menos 200 por lado.
admin-whole-number = Escribe aquí un número enteiro, sen letras nin puntos.
admin-changed-meanwhile = Alguén gardou esta páxina mentres a cambiabas. Aquí está tal como está agora: volve facer os teus cambios.
admin-usb-unknown = Iso non é unha memoria USB desta caixa.
admin-language-unknown = Escolle un dos idiomas da lista.
admin-text-too-long = O título (200 caracteres) ou as notas (5000) son demasiado longos.
admin-item-gone = Este episodio xa non está na biblioteca. Recarga a páxina.
admin-schedule-overlap = «{ $first }» e «{ $second }» sobrepóñense. Cambia o horario dun dos dous.
admin-mirrors-full = Xa non quedan prazas para espellos: quita un primeiro.
admin-mirror-gone = Este espello xa non está na lista (quizais deixou de pedilo). Recarga a páxina.
admin-key-not-a-key = Isto non é unha chave gardada desde unha caixa streamp2p. Pega o texto completo do ficheiro da chave.

# Axustes que a páxina (ou o ficheiro de configuración) non pode usar: que falla e que facer.
admin-config-audio = «{ $value }» non é unha entrada de son
admin-config-audio-fix = usa alsa:DISPOSITIVO, sine, file:RUTA ou none
admin-config-audio-pick = escolle unha entrada da lista
admin-config-public-url = «{ $value }» non é un enderezo http(s)
admin-config-public-url-fix = escríbeo como http://radio.exemplo.org, ou déixao baleiro
admin-config-tracker = «{ $value }» non é un enderezo de rastrexador http, https ou udp
admin-config-tracker-fix = escribe cada un como udp://tracker.exemplo.org:6969/announce
admin-config-follow = «{ $value }» non é o enderezo http(s) da caixa doutra radio
admin-config-follow-fix = escribe cada un como http://radio-b.exemplo.org
admin-config-max-upload = { $mb } MB non serve como límite de subida
admin-config-max-upload-fix = usa un tamaño entre 1 e 16384 MB, por exemplo 500
admin-config-station-name = o nome da radio debe ter entre 1 e 100 caracteres
admin-config-station-name-fix = escribe o nome co que te coñecen quen te escoita
admin-config-description = a descrición ten máis de 2000 caracteres
admin-config-description-fix = déixaa nunhas poucas frases
admin-config-bitrate = a caixa non pode emitir a { $kbps } kbit/s
admin-config-bitrate-fix = usa un valor entre 16 e 510, por exemplo 128
admin-config-library-missing = o cartafol { $folder } non existe
admin-config-library-missing-fix = créao, monta aí o disco USB ou quítao da lista
admin-config-library-unreadable = o cartafol { $folder } non se pode ler ({ $error })
admin-config-library-unreadable-fix = dálle á caixa permiso de lectura sobre el (e sobre os cartafoles que o conteñen)

# As filas da programación semanal.
admin-schedule-day = «{ $value }» non é un día da semana
admin-schedule-day-fix = escolle un día da lista
admin-schedule-time = «{ $value }» non é unha hora
admin-schedule-time-fix = escribe as horas así: 18:30
admin-schedule-order = un programa debe rematar despois de comezar
admin-schedule-order-fix = revisa a hora de remate (se un programa pasa da medianoite, párteo en dous)
admin-schedule-name = un programa precisa un nome de 1 a 80 caracteres
admin-schedule-name-fix = escribe o nome do programa

# Páxinas de erro da configuración.
admin-error-foreign-host-title = Enderezo equivocado
admin-error-foreign-host = A páxina de configuración só responde no enderezo da propia caixa: o seu enderezo IP, streamp2p.local ou o enderezo público da radio.
admin-error-not-local-title = Só desde a rede da radio
admin-error-not-local = A páxina de configuración só responde dentro da rede local da radio. Para abrila desde calquera sitio, activa admin.allow_remote no ficheiro de configuración.
admin-error-forged-title = Cambio non feito
admin-error-forged = Este cambio non vén da páxina de configuración desta caixa, ou a páxina levaba demasiado tempo aberta. Volve atrás, recarga a páxina e téntao de novo.
admin-error-body-title = Formulario non lido
admin-error-body = A caixa non puido ler o que enviou o formulario (demasiado grande ou cortado). Volve atrás e téntao de novo.
admin-error-internal-title = Algo fallou
admin-error-internal = A caixa non puido facer isto (mira o seu rexistro). Téntao de novo nun momento.

# Publicar desde o móbil: o que amosa a páxina cando se rexeita unha subida.
admin-upload-too-big = Este ficheiro ocupa { $size } MB; o máximo que se pode subir son { $max } MB (cámbiase en Axustes).
admin-upload-no-room = A caixa non ten sitio para este ficheiro. Borra primeiro gravacións antigas.
admin-upload-chunk-too-big = Este anaco da subida é maior do que envía a páxina. Recarga a páxina e téntao de novo.
admin-upload-not-found = Esta subida xa non está na caixa. Volve escoller o ficheiro.
admin-upload-too-long = A caixa recibiu máis do que ocupa o ficheiro. Volve escoller o ficheiro.
admin-upload-not-audio = Este ficheiro non é un audio que a caixa coñeza (MP3, Ogg, Opus, FLAC, WAV ou M4A).
admin-upload-cannot-store = Agora mesmo a caixa non pode gardar subidas (mira o seu rexistro). Téntao de novo nun momento.

# Compartir: un código QR que non se pode facer.
admin-qr-too-long = Este texto é demasiado longo para un código QR.
admin-qr-cannot = Non se pode facer un código QR con isto.
admin-push-bad = «{ $line }» non é un enderezo de servidor que a caixa poida usar. Escríbeo así: icecast://source:CONTRASINAL@SERVIDOR:PORTO/PUNTO, con ogg ou mp3 detrás se o nome do punto de montaxe non o di.

admin-update-unknown-action = Esta páxina non coñece ese botón. Recarga a páxina e proba de novo.
