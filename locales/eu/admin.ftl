# Konfigurazio-orria: markoa, lehen abiaraztea, sarrera, inprimakien mezuak eta errore-orriak.
# config-… eta schedule-… zatiak esaldi-zatiak dira (minuskulaz hasi eta azken punturik gabe):
# orriak esaldi bihurtzen ditu.

# Konfigurazio-orri guztietako barra: hizkuntza-hautatzailea eta gida.
admin-frame-label = Hizkuntza eta laguntza
admin-guide-link = Erabiltzeko gida

# Lehen abiaraztea.
admin-setup-page-title = Jarri martxan zure irratia
admin-setup-title = Ongi etorri
admin-setup-intro = Pasahitz hau dakienak bakarrik aldatu ahal izango du irratia. Gorde leku seguru batean.
admin-setup-language = Kutxa honek zure irratia igortzen du, haren artxiboa gordetzen du eta partekatu egiten du. Zein hizkuntzatan nahi dituzu bere orriak?
admin-setup-name-title = Nola du izena zure irratiak?
admin-setup-name-hint = Entzuleek entzuteko orrian eta beren podcast aplikazioetan ikusiko dute.
admin-setup-password-title = Aukeratu pasahitz bat orri honetarako
admin-setup-change = Aldatu
admin-password-new = Pasahitza (gutxienez 8 karaktere)
admin-password-again = Errepikatu pasahitza
admin-setup-submit = Gorde eta hasi

# Irratiaren datuak, lehen abiaraztean eta Ezarpenetan.
admin-station-name = Irratiaren izena
admin-station-language = Irratiaren hizkuntza
admin-station-language-hint = Podcastean eta grabazioen izenburuetan erabiltzen da. Bisitari bakoitzak bere hizkuntzan ikusten ditu orri hauek.

# Sarrera.
admin-login-page-title = Sartu
admin-login-title = Irratiaren ezarpenak
admin-password = Pasahitza
admin-login-submit = Sartu
admin-login-forgot = Ahaztu zaizu? Gidak azaltzen du zer egin daitekeen.
admin-login-forgot-link = Irakurri gida
admin-login-limit = Bost saiakera oker egin ondoren, orri honek hamar minutu itxarongo du.
admin-wrong-password = Pasahitz okerra. Egiaztatu eta saiatu berriro.
admin-locked = { $minutes ->
    [one] Pasahitz oker gehiegi: saiatu berriro minutu 1 barru.
   *[other] Pasahitz oker gehiegi: saiatu berriro { $minutes } minutu barru.
}
admin-password-too-short = Pasahitzak gutxienez 8 karaktere izan behar ditu.
admin-password-too-long = Pasahitzak 200 karaktere baino gehiago ditu.
admin-password-mismatch = Bi pasahitzak ez datoz bat. Idatzi berriro.

# Inprimaki bateko eremuaren ondoko mezuak.
admin-form-store = Kutxak ezin izan du hau gorde (begiratu bere erregistroa). Saiatu berriro une batean.
admin-logo-none = Aukeratu irudi bat lehenik.
admin-logo-unreadable = Fitxategi hau ez da kutxak irakur dezakeen irudi bat. Bidali JPEG, PNG edo WebP irudi bat.
admin-logo-too-big = Fitxategiak { $mb } MB baino gehiago ditu. Bidali irudi txikiago bat.
admin-logo-too-large = Irudiak { $width } × { $height } pixel ditu; kutxak gehienez 10000 onartzen ditu alde bakoitzeko. Bidali txikiago bat.
admin-logo-too-small = Irudiak { $width } × { $height } pixel ditu; lausotuta ikusiko litzateke. Bidali alde bakoitzean gutxienez 200 dituen bat.
admin-whole-number = Idatzi hemen zenbaki oso bat, letrarik eta punturik gabe.
admin-changed-meanwhile = Beste norbaitek orri hau gorde du zu aldatzen ari zinen bitartean. Hemen duzu orain dagoen bezala: egin berriro zure aldaketak.
admin-usb-unknown = Hori ez da kutxa honetako USB memoria bat.
admin-language-unknown = Aukeratu zerrendako hizkuntza bat.
admin-text-too-long = Izenburua (200 karaktere) edo oharrak (5000) luzeegiak dira.
admin-item-gone = Atal hau ez dago jada liburutegian. Kargatu berriro orria.
admin-schedule-overlap = «{ $first }» eta «{ $second }» gainjarri egiten dira. Aldatu horietako baten ordutegia.
admin-mirrors-full = Ispiluentzako leku guztiak beteta daude: kendu bat lehenik.
admin-mirror-gone = Ispilu hau ez dago jada zerrendan (agian eskatzeari utzi dio). Kargatu berriro orria.
admin-key-not-a-key = Hau ez da streamp2p kutxa batetik gordetako gakoa. Itsatsi gako-fitxategiaren testu osoa.

# Orriak (edo konfigurazio-fitxategiak) erabili ezin dituen ezarpenak: zer dagoen gaizki eta zer egin.
admin-config-audio = «{ $value }» ez da soinu-sarrera bat
admin-config-audio-fix = erabili alsa:GAILUA, sine, file:BIDEA edo none
admin-config-audio-pick = aukeratu zerrendako sarrera bat
admin-config-public-url = «{ $value }» ez da http(s) helbide bat
admin-config-public-url-fix = idatzi http://irratia.adibidea.org bezala, edo utzi hutsik
admin-config-tracker = «{ $value }» ez da partekatze-zerbitzari baten http, https edo udp helbidea
admin-config-tracker-fix = idatzi bakoitza udp://tracker.adibidea.org:6969/announce bezala
admin-config-follow = «{ $value }» ez da beste irrati baten kutxaren http(s) helbidea
admin-config-follow-fix = idatzi bakoitza http://irratia-b.adibidea.org bezala
admin-config-max-upload = { $mb } MB ez da igoerentzako muga erabilgarria
admin-config-max-upload-fix = erabili 1 eta 16384 MB arteko tamaina, adibidez 500
admin-config-station-name = irratiaren izenak 1 eta 100 karaktere artean izan behar ditu
admin-config-station-name-fix = idatzi entzuleek irratia ezagutzeko erabiltzen duten izena
admin-config-description = deskribapenak 2000 karaktere baino gehiago ditu
admin-config-description-fix = laburtu esaldi gutxi batzuetara
admin-config-bitrate = kutxak ezin du { $kbps } kbit/s-an igorri
admin-config-bitrate-fix = erabili 16 eta 510 arteko balio bat, adibidez 128
admin-config-library-missing = { $folder } karpeta ez dago
admin-config-library-missing-fix = sortu, muntatu bertan USB diskoa edo kendu zerrendatik
admin-config-library-unreadable = { $folder } karpeta ezin da irakurri ({ $error })
admin-config-library-unreadable-fix = eman kutxari karpeta hori (eta hura barruan duten karpetak) irakurtzeko baimena

# Asteko programazioaren errenkadak.
admin-schedule-day = «{ $value }» ez da asteko egun bat
admin-schedule-day-fix = aukeratu zerrendako egun bat
admin-schedule-time = «{ $value }» ez da ordu bat
admin-schedule-time-fix = idatzi orduak honela: 18:30
admin-schedule-order = saio batek hasi ondoren amaitu behar du
admin-schedule-order-fix = egiaztatu amaiera-ordua (gauerdia igarotzen duen saioa bitan zatitu)
admin-schedule-name = saio batek 1 eta 80 karaktere arteko izena behar du
admin-schedule-name-fix = idatzi saioaren izena

# Konfigurazioaren errore-orriak.
admin-error-foreign-host-title = Helbide okerra
admin-error-foreign-host = Konfigurazio-orriak kutxaren beraren helbidean bakarrik erantzuten du: bere IP helbidean, streamp2p.local helbidean edo irratiaren helbide publikoan.
admin-error-not-local-title = Irratiaren saretik bakarrik
admin-error-not-local = Konfigurazio-orriak irratiaren sare lokalean bakarrik erantzuten du. Edonondik irekitzeko, aktibatu admin.allow_remote konfigurazio-fitxategian.
admin-error-forged-title = Aldaketa ez da egin
admin-error-forged = Aldaketa hau ez dator kutxa honen konfigurazio-orritik, edo orria denbora gehiegi egon da irekita. Itzuli atzera, kargatu berriro orria eta saiatu berriro.
admin-error-body-title = Inprimakia ez da irakurri
admin-error-body = Kutxak ezin izan du irakurri inprimakiak bidalitakoa (handiegia edo moztua). Itzuli atzera eta saiatu berriro.
admin-error-internal-title = Zerbaitek huts egin du
admin-error-internal = Kutxak ezin izan du hau egin (begiratu bere erregistroa). Saiatu berriro une batean.

# Mugikorretik argitaratzea: igoera bat baztertzen denean orriak erakusten duena.
admin-upload-too-big = Fitxategi honek { $size } MB ditu; gehienez { $max } MB igo daitezke (Ezarpenetan aldatzen da).
admin-upload-no-room = Kutxak ez du lekurik fitxategi honentzat. Ezabatu lehenik grabazio zaharrak.
admin-upload-chunk-too-big = Igoeraren zati hau orriak bidaltzen duena baino handiagoa da. Kargatu berriro orria eta saiatu berriro.
admin-upload-not-found = Igoera hau ez dago jada kutxan. Aukeratu berriro fitxategia.
admin-upload-too-long = Kutxak fitxategiaren tamaina baino gehiago jaso du. Aukeratu berriro fitxategia.
admin-upload-not-audio = Fitxategi hau ez da kutxak ezagutzen duen audio bat (MP3, Ogg, Opus, FLAC, WAV edo M4A).
admin-upload-cannot-store = Kutxak ezin ditu orain igoerak gorde (begiratu bere erregistroa). Saiatu berriro une batean.

# Partekatzea: egin ezin den QR kode bat.
admin-qr-too-long = Testu hau luzeegia da QR kode baterako.
admin-qr-cannot = Ezin da honekin QR koderik egin.
admin-push-bad = «{ $line }» ez da kutxak erabil dezakeen zerbitzari-helbide bat. Idatzi honela: icecast://source:PASAHITZA@ZERBITZARIA:ATAKA/MUNTAKETA, ogg edo mp3 atzean muntaketa-puntuaren izenak esaten ez badu.

admin-update-unknown-action = Orri honek ez du botoi hori ezagutzen. Kargatu berriro orria eta saiatu berriz.
