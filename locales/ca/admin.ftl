# La pàgina de configuració: el marc, la primera posada en marxa, l'entrada, els missatges dels
# formularis i les pàgines d'error. Les parts config-… i schedule-… són trossos de frase
# (comencen en minúscula i sense punt final): la pàgina els ajunta en frases.

# La barra de totes les pàgines de configuració: el selector d'idioma i la guia.
admin-frame-label = Idioma i ajuda
admin-guide-link = Guia d'ús

# Primera posada en marxa.
admin-setup-page-title = Posa en marxa la teva ràdio
admin-setup-title = Benvinguda
admin-setup-intro = Només qui sàpiga aquesta contrasenya podrà canviar la ràdio. Guarda-la en un lloc segur.
admin-setup-language = Aquesta caixa emet la teva ràdio, en guarda l'arxiu i el comparteix. En quina llengua vols les seves pàgines?
admin-setup-name-title = Com es diu la teva ràdio?
admin-setup-name-hint = La gent el veurà a la pàgina per escoltar i a les seves aplicacions de pòdcasts.
admin-setup-password-title = Tria una contrasenya per a aquesta pàgina
admin-setup-change = Canviar
admin-password-new = Contrasenya (mínim 8 caràcters)
admin-password-again = Repeteix la contrasenya
admin-setup-submit = Desa i comença

# Les dades de la ràdio, a la posada en marxa i a Configuració.
admin-station-name = Nom de la ràdio
admin-station-language = Idioma de la ràdio
admin-station-language-hint = S'usa al pòdcast i als títols de les gravacions. Cada visitant continua veient aquestes pàgines en el seu idioma.

# Entrada.
admin-login-page-title = Entra
admin-login-title = Configuració de la ràdio
admin-password = Contrasenya
admin-login-submit = Entra
admin-login-forgot = L'has oblidada? La guia explica què es pot fer.
admin-login-forgot-link = Llegeix la guia
admin-login-limit = Després de cinc intents fallits, aquesta pàgina espera deu minuts.
admin-wrong-password = Contrasenya incorrecta. Revisa-la i torna-ho a provar.
admin-locked = { $minutes ->
    [one] Massa contrasenyes incorrectes: torna-ho a provar d'aquí a 1 minut.
   *[other] Massa contrasenyes incorrectes: torna-ho a provar d'aquí a { $minutes } minuts.
}
admin-password-too-short = La contrasenya ha de tenir com a mínim 8 caràcters.
admin-password-too-long = La contrasenya té més de 200 caràcters.
admin-password-mismatch = Les dues contrasenyes no coincideixen. Torna-les a escriure.

# Missatges al costat d'un camp d'un formulari.
admin-form-store = La caixa no ho ha pogut desar (mira'n el registre). Torna-ho a provar d'aquí a una estona.
admin-logo-none = Tria primer una imatge.
admin-logo-unreadable = Aquest fitxer no és una imatge que la caixa sàpiga llegir. Envia una imatge JPEG, PNG o WebP.
admin-logo-too-big = El fitxer passa de { $mb } MB. Envia una imatge més petita.
admin-logo-too-large = La imatge fa { $width } × { $height } píxels; la caixa n'accepta com a màxim 10000 per costat. Envia'n una de més petita.
admin-logo-too-small = La imatge fa { $width } × { $height } píxels; es veuria borrosa. Envia'n una d'almenys 200 per costat.
admin-whole-number = Escriu aquí un nombre enter, sense lletres ni punts.
admin-changed-meanwhile = Algú ha desat aquesta pàgina mentre la canviaves. Aquí la tens tal com és ara: torna a fer els canvis.
admin-usb-unknown = Això no és una memòria USB d'aquesta caixa.
admin-language-unknown = Tria un dels idiomes de la llista.
admin-text-too-long = El títol (200 caràcters) o les notes (5000) són massa llargs.
admin-item-gone = Aquest episodi ja no és a la biblioteca. Torna a carregar la pàgina.
admin-schedule-overlap = «{ $first }» i «{ $second }» se superposen. Canvia l'horari d'un dels dos.
admin-mirrors-full = Ja no queden places per a miralls: treu-ne un primer.
admin-mirror-gone = Aquest mirall ja no és a la llista (potser ha deixat de demanar-ho). Torna a carregar la pàgina.
admin-key-not-a-key = Això no és una clau desada des d'una caixa streamp2p. Enganxa el text sencer del fitxer de la clau.

# Opcions que la pàgina (o el fitxer de configuració) no pot fer servir: què falla i què cal fer.
admin-config-audio = «{ $value }» no és una entrada de so
admin-config-audio-fix = fes servir alsa:DISPOSITIU, sine, file:CAMÍ o none
admin-config-audio-pick = tria una entrada de la llista
admin-config-public-url = «{ $value }» no és una adreça http(s)
admin-config-public-url-fix = escriu-la com http://radio.exemple.org, o deixa-la buida
admin-config-tracker = «{ $value }» no és una adreça de rastrejador http, https o udp
admin-config-tracker-fix = escriu-les com udp://tracker.exemple.org:6969/announce
admin-config-follow = «{ $value }» no és l'adreça http(s) de la caixa d'una altra ràdio
admin-config-follow-fix = escriu-les com http://radio-b.exemple.org
admin-config-max-upload = { $mb } MB no serveix com a límit de pujada
admin-config-max-upload-fix = fes servir una mida entre 1 i 16384 MB, per exemple 500
admin-config-station-name = el nom de la ràdio ha de tenir entre 1 i 100 caràcters
admin-config-station-name-fix = escriu el nom amb què et coneixen els oients
admin-config-description = la descripció té més de 2000 caràcters
admin-config-description-fix = deixa-la en unes quantes frases
admin-config-bitrate = la caixa no pot emetre a { $kbps } kbit/s
admin-config-bitrate-fix = fes servir un valor entre 16 i 510, per exemple 128
admin-config-library-missing = la carpeta { $folder } no existeix
admin-config-library-missing-fix = crea-la, munta-hi el disc USB o treu-la de la llista
admin-config-library-unreadable = la carpeta { $folder } no es pot llegir ({ $error })
admin-config-library-unreadable-fix = dona permís de lectura a la caixa sobre aquesta carpeta (i sobre les que la contenen)

# Les files de la programació setmanal.
admin-schedule-day = «{ $value }» no és un dia de la setmana
admin-schedule-day-fix = tria un dia de la llista
admin-schedule-time = «{ $value }» no és una hora
admin-schedule-time-fix = escriu les hores així: 18:30
admin-schedule-order = un programa ha d'acabar després de començar
admin-schedule-order-fix = revisa l'hora de final (si un programa passa de mitjanit, parteix-lo en dos)
admin-schedule-name = un programa necessita un nom d'1 a 80 caràcters
admin-schedule-name-fix = escriu el nom del programa

# Pàgines d'error de la configuració.
admin-error-foreign-host-title = Adreça equivocada
admin-error-foreign-host = La pàgina de configuració només respon a l'adreça de la mateixa caixa: la seva adreça IP, streamp2p.local o l'adreça pública de la ràdio.
admin-error-not-local-title = Només des de la xarxa de la ràdio
admin-error-not-local = La pàgina de configuració només respon dins de la xarxa local de la ràdio. Per obrir-la des de qualsevol lloc, activa admin.allow_remote al fitxer de configuració.
admin-error-forged-title = Canvi no fet
admin-error-forged = Aquest canvi no ve de la pàgina de configuració d'aquesta caixa, o la pàgina feia massa estona que era oberta. Torna enrere, torna a carregar la pàgina i prova-ho de nou.
admin-error-body-title = Formulari no llegit
admin-error-body = La caixa no ha pogut llegir el que ha enviat el formulari (massa gran o tallat). Torna enrere i prova-ho de nou.
admin-error-internal-title = Alguna cosa ha fallat
admin-error-internal = La caixa no ho ha pogut fer (mira'n el registre). Torna-ho a provar d'aquí a una estona.

# Publicar des del mòbil: el que mostra la pàgina quan es rebutja una pujada.
admin-upload-too-big = Aquest fitxer ocupa { $size } MB; el màxim que es pot pujar són { $max } MB (es canvia a Configuració).
admin-upload-no-room = La caixa no té lloc per a aquest fitxer. Esborra primer gravacions antigues.
admin-upload-chunk-too-big = Aquest tros de la pujada és més gran del que envia la pàgina. Torna a carregar la pàgina i prova-ho de nou.
admin-upload-not-found = Aquesta pujada ja no és a la caixa. Torna a triar el fitxer.
admin-upload-too-long = La caixa ha rebut més del que ocupa el fitxer. Torna a triar el fitxer.
admin-upload-not-audio = Aquest fitxer no és un àudio que la caixa conegui (MP3, Ogg, Opus, FLAC, WAV o M4A).
admin-upload-cannot-store = Ara mateix la caixa no pot desar pujades (mira'n el registre). Torna-ho a provar d'aquí a una estona.

# Compartir: un codi QR que no es pot fer.
admin-qr-too-long = Aquest text és massa llarg per a un codi QR.
admin-qr-cannot = No es pot fer un codi QR amb això.
admin-push-bad = «{ $line }» no és una adreça de servidor que la caixa pugui fer servir. Escriu-la així: icecast://source:CONTRASENYA@SERVIDOR:PORT/PUNT, amb ogg o mp3 al darrere si el nom del punt de muntatge no ho diu.

admin-update-unknown-action = Aquesta pàgina no coneix aquest botó. Torna a carregar la pàgina i prova-ho de nou.
