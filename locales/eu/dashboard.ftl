# Panela (/admin, saioa hasi ondoren): atal guztiak, oharrak eta abisuak, eta bere
# scriptak idazten dituen hitzak.

# Orriaren izenburua, goiburua eta ataletarako estekak.
dash-title = { $station } – ezarpenak
dash-log-out = Irten
dash-nav = Orriko zatiak
dash-task-home = Hasiera
dash-task-sound = Soinua eta zuzenekoa
dash-task-episodes = Atalak
dash-task-schedule = Programazioa
dash-task-share = Partekatu
dash-task-storage = USBa eta biltegia
dash-task-sisters = Irrati anaiak
dash-task-settings = Ezarpenak
dash-task-technical = Teknikoa
dash-task-title = { $task } · { $station }
dash-welcome-step = { $n }. urratsa { $of }tik
dash-welcome-sound-title = Nondik dator soinua?
dash-welcome-sound = Aukeratu soinu-sarrera eta gorde. Barrak sartzen den soinuarekin mugitzen dira, eta Entzun sakatuta jendeak entzungo duena entzungo duzu.
dash-welcome-share-title = Nola iritsiko da jendea irratira?
dash-welcome-share = Wifi honetan dagoenak beheko estekak ireki ditzake orain. Edonondik entzun zaitzaten, idatzi kutxaren helbide publikoa (zure interneteko bideratzailearena edo zure domeinua) Helbide publikoa atalean, edo utzi geroko.
dash-welcome-next = Hurrengoa
dash-welcome-finish = Amaitu
dash-back-home = ‹ Hasiera
dash-sound-title = Soinu-sarrera eta zuzenekoa
dash-swarm-title = Partekatutakoaren zifrak
dash-technical-title = Ezarpen teknikoak

# Azken aldaketak egin duena (ohar berdea, goian).
dash-done-saved = Gordeta. Aldaketa martxan dago jada.
dash-done-restarting = Gordeta. Irratiak soinua eta liburutegia berrabiarazten ditu aldaketa aplikatzeko: segundo batzuk barru itzuliko da.
dash-done-schedule = Programazioa gordeta; hurrengo grabazioek bere saioen izena izango dute.
dash-done-episode = Atalaren izenburua eta oharrak gordeta daude.
dash-done-mirror-approved = Kopia onartuta: entzuleen aplikazioek handik deskarga dezakete orain.
dash-done-mirror-removed = Kopia kenduta. Ez da zerrendara itzuliko Irrati ahizpak atalean baimentzen duzun arte.
dash-done-mirror-allowed = Kutxa horrek irrati hau berriro kopiatu ahal izango du, frogatzen duenean.

# Abisuak (gorriz, goian): zer gertatzen den eta zer egin.
dash-warn-settings-unreadable = Gordetako ezarpenak ezin dira irakurri, eta kutxak fabrikakoekin dihardu. Gorde itzazu berriro Ezarpenak atalean.
dash-warn-settings-unusable = Gordetako ezarpenak ezin izan dira erabili ({ $problem }; { $fix }); beraz, kutxak fabrikakoekin dihardu Ezarpenak atalean aldatu arte.
dash-warn-usb-removed = { $n ->
    [one] { $label } USB memoria kenduta: bere atala lineaz kanpo dago itzuli arte.
   *[other] { $label } USB memoria kenduta: bere { $n } atalak lineaz kanpo daude itzuli arte.
}
dash-warn-no-input = Ez da soinurik sartzen: soinu-txartelak ez du erantzuten. Egiaztatu konektatuta dagoela; kutxa segundo gutxiro saiatzen da berriro, eta bere kabuz itzuliko da antenara.
dash-warn-silence = { $secs ->
    [one] Isilunea antenan segundo batez. Mahaiaren irteera isilduta edo fader-a jaitsita al dago?
   *[other] Isilunea antenan { $secs } segundoz. Mahaiaren irteera isilduta edo fader-a jaitsita al dago?
}
dash-warn-push-unreachable = Ezin da { $server } Icecast zerbitzarira iritsi. Kutxak berak saiatuko da berriro { $secs } s barru.
dash-warn-push-refused = { $server } Icecast zerbitzariak emisioa baztertu du. Egiaztatu haren pasahitza eta muntatze-puntua kutxaren ezarpenetan.
dash-warn-push-dropped = { $server } Icecast zerbitzarirako emisioa eten da. Kutxak berriro bidaliko du { $secs } s barru.
dash-warn-overflow = Kutxaren interneteko konexioa beteta dago. Irrati-aplikazioak edo emisioaren esteka zuzena erabiltzen dituzten entzule berriak { $server } Icecast zerbitzarira doaz orain (orain arte bidaliak: { $n }). Dagoeneko entzuten ari direnak bertan geratzen dira. Berriro lekua dagoenean bere kabuz gelditzen da.
dash-warn-full-no-relay = Kutxaren interneteko konexioa beteta dago: irrati-aplikazioak edo emisioaren esteka zuzena erabiltzen dituzten entzuleek etenak entzun ditzakete. Hori gertatzean berriak beste nonbaitera bidaltzeko, gehitu Icecast zerbitzari bat «Bidali emisioa Icecast zerbitzarietara ere» atalean.
dash-warn-usb-missing = USB diskoa falta da: { $path }. Konektatu berriro: bere atalak itzuliko dira, berriro irakurri gabe.
dash-warn-disk-full = Kutxaren memoria ia beteta dago ({ $free } geratzen dira). Ezabatu grabazio edo igoera zaharrak, edo erabili txartel handiago bat.
dash-warn-disk-hours = Oraingo erritmoan kutxaren biltegia { $hours } ordu ingurutan beteko da, eta ez da ezaba dezakeen grabazio zaharrik geratzen. Ezabatu igoerak, kendu «gorde» marka grabazio zaharrei edo erabili txartel handiagoa.
dash-warn-recorder-paused = Grabazioa geldirik dago: kutxaren biltegia beteta dago. Emisioak aurrera jarraitzen du. Egin tokia eta grabazioa bere kabuz hasiko da berriro.
dash-warn-browser-tracker = Nabigatzailetik entzuten dutenek ezin dute elkar aurkitu orain: kutxa ez da haien topagunera iristen. Egiaztatu kutxaren interneteko konexioa.
dash-warn-unreadable = { $n ->
    [one] Liburutegiko fitxategi bat ezin izan da irakurri; Liburutegia atalean ageri da. Besteak ondo daude.
   *[other] Liburutegiko { $n } fitxategi ezin izan dira irakurri; Liburutegia atalean ageri dira. Besteak ondo daude.
}

# Zuzenean: egoera, soinu-neurgailua, entzuleak eta eguneko grafikoak.
dash-air-title = Zuzenean
dash-air-line-in = Zuzenean linea-sarreratik
dash-air-test-tone = Proba-tonua, ez zure nahasketa-mahaia
dash-air-silent = Isiltasuna { $minutes } minututik: begiratu mahaia
dash-air-studio = Zuzenean estudioko ordenagailutik
dash-air-music = Liburutegiko musika: inor ez dago zuzenean
dash-air-dead = Isiltasuna ateratzen da: ez da soinurik sartzen eta ez dago jartzeko musikarik
dash-air-starting = Abiatzen
dash-air-no-card = Ez dago soinu-txartelik: egiaztatu konektatuta dagoela
dash-air-off = Zuzeneko sarrerarik ez
dash-meter-quiet = Soinu-maila: oraindik ez da soinurik sartzen
dash-meter-now = Soinu-maila: ezkerra { $left } dB, eskuina { $right } dB
dash-level-title = Nola entzuten den orain
dash-meter-hint = Barrak sartzen den soinuarekin mugitzen dira. Berdea ondo dago; gorriak ozenegi esan nahi du: jaitsi pixka bat mahaiaren irteera.
dash-meter-word-none = Oraindik ez dago soinurik
dash-meter-word-quiet = Baxuegi: igo mahaia
dash-meter-word-good = Ondo
dash-meter-word-loud = Altuegi: jaitsi mahaia
dash-listen = Entzun
dash-listen-stop = Utzi entzuteari
dash-air-off-hint = Zuzenean emateko, aukeratu soinu-sarrera atal honetan:
dash-stat-listeners = Orain entzuten
dash-stat-room = Entzule gehiagorentzako lekua
dash-room = { $n ->
    [0] Orain ez dago entzule gehiagorentzako lekurik.
    [one] Entzule 1 gehiagorentzako lekua dago.
   *[other] { $more } entzule gehiagorentzako lekua dago, gutxi gorabehera.
} Kutxak { $now } bidaltzen ditu orain; bi egunetan bidali duen gehiena { $best } da.
dash-room-unknown = Oraindik ez dakigu: kutxak entzuleei bidaltzen dienetik ikasten du zenbat bidal dezakeen.
dash-stat-yesterday = Atzo
dash-yesterday-peak = gehienez { $peak } aldi berean, { $time } aldera
dash-yesterday-nobody = inork ez zuen entzun
dash-yesterday-none = egun horretako daturik ez
dash-stat-ways = Nola entzuten duten
dash-stat-p2p = Nabigatzaileetan partekatzen
dash-stat-uptime = Martxan
dash-listen-ways = Emisioa: { $stream } · Erreproduzigailuak: { $players } (partekatzen: { $sharing })
dash-two-days = Gaur eta atzo
dash-chart-today = Gaur
dash-plays-download = Deskargatu entzun dena (azken 90 egunak, kudeaketa-erakundeentzat)
dash-graph-listeners = Entzuleak
dash-graph-upload = Entzuleei bidalitakoa
dash-chart-listeners-today = Entzuleak gaur: gehienez { $peak } aldi berean, orain { $now }.
dash-chart-upload-today = Entzuleei bidalitakoa gaur: gehienez { $peak }, orain { $now }.
dash-chart-today-none = Oraindik ez dago gaurko daturik: minutuero puntu bat gehitzen da.
dash-chart-yesterday = Atzo: gehienez { $peak }.
dash-chart-yesterday-none = Ez dago atzoko daturik.

# Liburutegia: partekatutako atalak, irakurtzen ari den fitxategiak, biltegia, irakurri ezinak.
dash-library-title = Liburutegia
dash-library-items = Partekatutako atalak:
dash-hashing = Fitxategi berriak irakurtzen:
dash-hashing-progress = Fitxategiak: { $done } / { $total } ({ $bytes_done } / { $bytes_total })
dash-hashing-hint = Fitxategi berri bakoitza behin irakurtzen da partekatzeko prestatzeko; liburutegi handi batek denbora behar du lehen aldian.
dash-stat-peers = Norekin partekatzen
dash-stat-upload = Orain bidaltzen
dash-stat-tracker = Topagunea
dash-tracker-line = Atalak: { $swarms } · Gailuak: { $peers }
dash-storage = Biltegia
dash-storage-missing = ez dago (deskonektatuta?)
dash-storage-free = konektatuta, { $free } libre
dash-storage-present = konektatuta
dash-storage-none = Ez dago liburutegiko karpetarik: gehitu bat Ezarpenak atalean.
dash-problems = Irakurri ezin izan diren fitxategiak
dash-problem-link-outside = liburutegitik kanpoko leku baterako lasterbidea da; kopiatu hona fitxategia bera
dash-problem-link-loop = bere buruarengana itzultzen den karpeta-lasterbidea da
dash-problem-link-nowhere = jada ez dagoen fitxategi baterako lasterbidea da
dash-problem-name = izenak kutxak irakurri ezin dituen karaktereak ditu; aldatu izena
dash-problem-not-a-file = ez da fitxategi arrunta
dash-problem-empty = fitxategia hutsik dago; kopiatu berriro
dash-problem-unreadable = kutxak ezin du irakurri: hondatuta egon daiteke edo USB memoria huts egiten ari da; kopiatu berriro
dash-problem-changed = irakurtzen ari zen bitartean aldatu da (kopiatzen ari zen?); kutxak berak saiatuko da berriro
dash-problem-not-recorded = kutxak ezin izan du bere memorian idatzi; hurrengo berrikuspenean saiatuko da berriro

# Argitaratu atal bat (igotzeko inprimakia eta bere scriptak idazten duena).
dash-publish-title = Argitaratu atal bat
dash-upload-file = Audio-fitxategia (MP3, Ogg, Opus, FLAC, WAV edo M4A, gehienez { $max })
dash-field-title = Izenburua
dash-field-notes = Oharrak
dash-field-keep = Gorde grabazio hau (ez da inoiz ezabatzen tokia egiteko)
dash-upload-submit = Argitaratu
dash-upload-hint = Wifia erortzen bada, aukeratu berriro fitxategi bera: igoerak gelditu zen lekutik jarraituko du.
dash-js-choose-file = Aukeratu fitxategi bat lehenik.
dash-js-sending = Bidaltzen: { $done } / { $total }
dash-js-retry = Konexioa galdu da; berriro saiatzen ({ $n })…
dash-js-published = Argitaratuta. Kutxa partekatzeko prestatzen ari da; minutu bat barru agertuko da zerrendan.
dash-js-error = Zerbait gaizki joan da ({ $status } errorea).

# Partekatu: zabaltzeko helbideak, beren QR kodeekin.
dash-share-title = Partekatu
dash-share-anyone = Interneteko edonork ireki dezake hau
dash-share-this-wifi = Wifi honetako jendeak ireki dezake hau
dash-share-no-public = Wifi honetatik kanpo inork ezin du irratia ireki oraindik: kutxak ez du helbide publikorik.
dash-share-set-public = Jarri helbide publikoa
dash-share-none = Oraindik ez dago partekatzeko helbiderik: orriek ordenagailu honetan bakarrik erantzuten dute.
dash-share-button = Partekatu…
dash-share-more = Esteka gehiago: zuzenekoa eta podcast-jarioa
dash-share-live = Zuzenekoa
dash-share-feed = Podcasta
dash-share-qr = QR kodea: { $what }
dash-share-address = Helbidea: { $what }
dash-copy = Kopiatu
dash-js-copied = Kopiatuta
dash-js-selected = Hautatuta: kopiatu

# Atalak: bakoitzaren izenburua eta oharrak editatu.
dash-episodes-title = Atalak
dash-episode-edit = Editatu
dash-episode-page = Entzuleentzako orria
dash-save = Gorde
dash-copy-magnet = Kopiatu magnet esteka
dash-qr-code = QR kodea
dash-episodes-none = Oraindik ez dago atalik.

# Asteko programazioa.
dash-schedule-title = Asteko programazioa
dash-schedule-hint = Grabazioek antenan dagoen saioaren izena hartzen dute; liburutegiko musikaren tarteak ez dira grabatzen. Hustu saio baten izena hura kentzeko; azken lerroak berri bat gehitzen du.
dash-show = Saioa
dash-show-new = Saio berria
dash-show-day = Eguna
dash-show-start = Hasiera
dash-show-end = Amaiera
dash-show-kind = Antenan
dash-show-kind-live = Zuzenean (nahasgailua edo estudioko ordenagailua)
dash-show-kind-playlist = Liburutegiko musika
dash-schedule-save = Gorde programazioa
dash-logo-title = Irratiaren logoa
dash-logo-now = Irratiaren oraingo logoa
dash-logo-hint = Podcast aplikazioek, direktorioek eta mugikorren hasierako pantailek erakusten dute. Irudi karratu batek itxura hobea du: beste edozeinetatik erdiko karratua erabiltzen da. Mugikorreko argazki batek ere balio du (JPEG, PNG edo WebP).
dash-logo-file = Irudia
dash-logo-submit = Erabili irudi hau
dash-logo-remove = Itzuli marraztutako logora
dash-done-logo = Logo berria jarrita dago. Podcast aplikazioek hurrengo bisitan hartuko dute.
dash-done-logo-removed = Marraztutako logoa itzuli da.

# Irrati ahizpak: kutxa honen gakoa, jarraitzen dituen irratiak.
dash-sisters-title = Irrati ahizpak
dash-key = Kutxa honen gakoa:
dash-key-hint = Irrati hau jarraitzen duten irratiek gako honekin egiaztatzen dute bere atalen zerrenda. Irakurri iezaiezu, alderatzeko. Gorde kopia bat: gako bera duen ordezko kutxa bat hasieratik da fidagarria.
dash-key-download = Gorde gakoaren kopia bat
dash-follows = Kutxa honek jarraitzen dituen irratiak
dash-follow-key = Gakoa: { $key }
dash-follow-key-unseen = Gakoa: oraindik ikusi gabe
dash-follow-retry = hurrengo saiakera { $secs } s barru
dash-follow-mirrored = Hemen kopiatutako atalak: { $mirrored } / { $items }
dash-follow-pending = Oraindik harremanik gabe.
dash-follow-claim-ok = Irrati horrek bere kopien zerrendan du kutxa hau.
dash-follow-claim-refused = Irrati horrek oraindik ez du kutxa hau bere kopien zerrendan. Erantzuna: { $why }
dash-follows-none = Bat ere ez oraindik: idatzi irrati baten helbidea behean.
dash-follow-unreachable = Irratiak ez du erantzuten. Egiaztatu haren helbidea eta kutxa honen interneteko konexioa.
dash-follow-refused = Helbide hau ezin da erabili: { $why }
dash-follow-not-station = Helbide honek ez du irrati baten kutxak bezala erantzuten.
dash-follow-key-changed = Irratiak lehen aldian ikusitakoa ez den beste gako batekin sinatzen du orain. Kutxaz aldatu bada, haren arduradunak gako zaharra kargatu behar du kutxa berrian.
dash-follow-old-list = Irratiak lehendik ikusitako bat baino atal-zerrenda zaharragoa bidali du.
dash-follow-local = Kutxa honek ezin izan du gorde irakurritakoa: { $why }

# Irrati hau kopiatzen duten kutxak, eta nola joan den haien azken egiaztapena.
dash-mirrors-title = Irrati hau kopiatzen duten kutxak
dash-mirrors-hint = Kutxa bat kopia gisa zerrendatzen da soilik kutxa honek haren atalen zatiak ausaz deskargatu eta hemengoen berdinak direla egiaztatu ondoren. Bakoitza maiz egiaztatzen da berriro, eta huts egiten badu kendu egiten da.
dash-mirrors-approval = Gainera, kopia berriek zure onespenaren zain egon behar dute (Ezarpenak).
dash-mirror-listed = { $n ->
    [one] Zerrendan, atal batekin.
   *[other] Zerrendan, { $n } atalekin.
}
dash-mirror-waiting = { $n ->
    [one] Atal bat du; zure onespenaren zain dago.
   *[other] { $n } atal ditu; zure onespenaren zain dago.
}
dash-mirror-dropped = Zerrendatik kanpo: azken egiaztapenak huts egin du.
dash-mirror-checked = Azken egiaztapena, { $ago }: { $result }.
dash-mirror-passed = Gainditu zuen azken aldia: { $ago }.
dash-check-matched = { $pieces ->
    [one] ausaz eskatutako zatia irrati honen kopiaren berdina da
   *[other] ausaz eskatutako { $pieces } zatiak irrati honen kopiaren berdinak dira
}
dash-check-wrong = «{ $name }» fitxategiaren { $piece }. zatia ez da irrati honen kopiaren berdina
dash-check-unanswered = ez du «{ $name }» fitxategiaren zatirik eman
dash-check-nothing = ez du irrati honen atalik
dash-check-unreachable = haren helbideak ez du erantzuten
dash-check-not-station = haren helbideak ez du irrati baten kutxak bezala erantzuten
dash-check-bad-address = haren helbidea ez da baliozkoa
dash-check-too-slow = motelegi ibili da eskatutako zatiak ematen
dash-approve = Onartu
dash-remove = Kendu
dash-mirrors-none = Bat ere ez oraindik.
dash-removed-title = Kendutako kopiak
dash-removed-hint = Kutxa hauek ez dira zerrendan agertzen, esaten dutena esaten dutela, berriro baimentzen dituzun arte.
dash-removed-at = kenduta, { $ago }
dash-allow = Baimendu berriro

# Topaguneak (trackerrak) eta kutxa zahar baten gakoa.
dash-trackers-title = Topaguneak (trackerrak)
dash-trackers-hint = Topaguneek entzuleei elkar aurkitzen laguntzen diete. Kutxak bakoitza egiaztatzen du minutu gutxiro; estekek ondo dabiltzanak jartzen dituzte lehenik.
dash-tracker-dead = Ez du erantzuten: esteketatik kanpo geratu da.
dash-tracker-ok = % { $percent } erantzun du
dash-tracker-ok-ms = % { $percent } erantzun du, { $ms } ms
dash-trackers-none = Kanpokorik ez oraingoz. Kutxaren beraren topaguneak beti funtzionatzen du; kanpokoak gehitu eta minutu batzuetara egiaztatzen dira.
dash-key-old = Erabili kutxa zahar baten gakoa
dash-key-saved = Gordetako gakoa
dash-key-use = Erabili gako hau

# Ezarpenak.
dash-settings-title = Ezarpenak
dash-about = Irratiari buruz
dash-audio = Soinu-sarrera
dash-audio-none = Zuzenekorik ez
dash-audio-sine = Proba-tonua
dash-audio-hint = Gorde ondoren, begiratu goiko maila-barrak mahaiarekin nola mugitzen diren.
dash-bitrate = Emisioaren kalitatea (kbit/s; 128 ona da, 64k datuak aurrezten ditu)
dash-source-password = Estudioaren pasahitza (BUTT, Mixxx, Liquidsoap, ffmpeg-entzat)
dash-source-password-hint = Estudioko programak bere emisioa kutxa honetara bidaltzen du Icecast zerbitzari batera bezala: helbidea { $url }, erabiltzailea «source», pasahitz hau. Orduan lerro-sarreraren aurretik ateratzen da antenara. Hutsik: ezein estudio ezin da konektatu.
dash-fallback-folder = Saioen arteko musika: liburutegiko karpeta
dash-fallback-folder-hint = Inor zuzenean ez dagoenean, kutxak liburutegiko karpeta hau jartzen du, ausazko ordenan. Hutsik: liburutegi osoa.
dash-fallback-whole-library = (liburutegi osoa)
dash-library-folders = Liburutegiko karpetak (bat lerro bakoitzeko)
dash-usb-title = USB memoriak
dash-usb-none = Ez dago USB memoriarik konektatuta.
dash-usb-root = USB memoriak { $folder } karpetan daude: hango karpeta bakoitza memoria bat da.
dash-usb-away = { $n ->
    [one] kenduta: atal 1 lineaz kanpo itzuli arte
   *[other] kenduta: { $n } atal lineaz kanpo itzuli arte
}
dash-usb-stopped = { $n ->
    [one] partekatu gabe: atal 1 lineaz kanpo
   *[other] partekatu gabe: { $n } atal lineaz kanpo
}
dash-usb-shared = { $n ->
    [one] audio-fitxategi 1, partekatuta
   *[other] { $n } audio-fitxategi, partekatuta
}
dash-usb-space = { $size }, { $free } libre
dash-usb-stop = Utzi partekatzeari
dash-usb-resume = Partekatu berriro
dash-usb-skipped = { $n ->
    [one] Fitxategi 1 ezin izan da irakurri
   *[other] { $n } fitxategi ezin izan dira irakurri
}: ikusi zergatik
dash-usb-hint = Memoria bat konektatu bezain laster partekatzen da. Bat partekatzeari uzten badiozu, horrela jarraitzen du, bere izenagatik, kendu arren.
dash-upload-limit = Bidalketa-muga (KiB/s, 0 = mugarik gabe; jaitsi etxeko internet motel badabil)
dash-extra-trackers = Topagune gehiago (trackerrak, bat lerro bakoitzeko)
dash-public-title = Edonondik entzun zaitzaten
dash-public-url = Helbide publikoa (zure interneteko bideratzailearena edo zure domeinua)
dash-max-upload = Igoera handiena (MB)
dash-follow-title = Beste irrati batzuei jarraitu
dash-follow-field = Jarraitu eta kopiatzeko irrati ahizpak (helbide bat lerro bakoitzeko)
dash-approve-mirrors = Irrati honen kopia berriek nire onespena behar dute zerrendan agertu aurretik
dash-remote-admin = Baimendu orri hau sare lokaletik kanpo (pasahitz sendo batekin bakarrik)

# Etxeko routerrak kutxaren ateak irekitzen ditu internetera (system::portmap).
dash-reach-title = Internetetik iristea
dash-reach-hint = Routerra zure etxea internetera konektatzen duen gailua da. Kutxak ate (ataka) batzuk irekitzeko eskatzen dio, kanpoko entzuleak eta beste irrati batzuk kutxara iritsi ahal izateko.
dash-reach-searching = Routerrari ateak irekitzeko eskatzen…
dash-reach-no-router = Ez du routerrik erantzun. Baliteke etxetik kanpoko entzuleak kutxara ez iristea; routerrak UPnP edo NAT-PMP izeneko aukera badu (ateak automatikoki irekitzea), aktibatu ezazu.
dash-reach-open = Zure routerrak entzuleei sartzen uzten die: { $total } ateetatik { $open } irekita.
dash-reach-address = Interneteko helbidea: { $ip }
dash-reach-door-open = { $port } ataka ({ $what }): irekita
dash-reach-door-moved = { $port } ataka ({ $what }): irekita; internetetik { $external } atakatik iristen da
dash-reach-refused-not-allowed = Zure routerrak ezetz esan dio { $port } atakari ({ $what }): bere arauek ez diote kutxa honi uzten.
dash-reach-refused-taken = Zure routerrak ezetz esan dio { $port } atakari ({ $what }): beste gailu bat ari da erabiltzen.
dash-reach-refused-other = Zure routerrak ezetz esan dio { $port } atakari ({ $what }): { $reason }
dash-reach-trying = { $port } ataka ({ $what }): galdetzen…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = Zer egin dezakezu: ireki routerraren ezarpenen orria (helbidea gailuaren azpiko etiketa batean egon ohi da), bilatu «ataken birbideratzea» eta bidali ataka hauek kutxa honetara ({ $address }): { $ports }. Routerra zure interneteko konpainiak kudeatzen badu, deitu eta eskatu egiteko. Bitartean kutxak lanean jarraitzen du, baina baliteke etxetik kanpoko entzuleak bertara ez iristea.
dash-reach-by-hand-no-address = Zer egin dezakezu: ireki routerraren ezarpenen orria (helbidea gailuaren azpiko etiketa batean egon ohi da), bilatu «ataken birbideratzea» eta bidali ataka hauek kutxa honetara: { $ports }. Routerra zure interneteko konpainiak kudeatzen badu, deitu eta eskatu egiteko. Bitartean kutxak lanean jarraitzen du, baina baliteke etxetik kanpoko entzuleak bertara ez iristea.
dash-reach-what-peers = BitTorrent programekin partekatzeko
dash-reach-what-udp-tracker = BitTorrent programen topagunea
dash-reach-what-web = orriak eta atalak
dash-reach-what-https = orri seguruak
dash-reach-what-stun = entzuleek elkar aurki dezaten
# Nabigatzailearen giltzarrapoa (https): kutxak berak eskatu eta berritzen duen ziurtagiria.
dash-https-title = Nabigatzailearen giltzarrapoa (https)
dash-https-valid = Giltzarrapoaren ziurtagiriaren iraungitze-data: { $date }.
dash-https-renews = Kutxak berak berritzen du iraungi aurretik.
dash-https-files = Konfigurazioan jarritako fitxategietako ziurtagiria da: aldatu itzazu data hori baino lehen.
dash-https-expired = Giltzarrapoaren ziurtagiria iraungita dago ({ $date }).
dash-https-waiting = Kutxa { $name } izenerako giltzarrapoaren ziurtagiria eskatzen ari da. Bitartean, irratiak giltzarraporik gabe funtzionatzen du.
dash-https-problem-challenge = Ziurtagirien zerbitzua ezin izan da kutxara iritsi { $name } izenarekin. Egiaztatu izen horrek zure etxeko interneteko helbidera eramaten duela eta zure routerrak 80 eta 443 atakak kutxara pasatzen uzten dituela.
dash-https-problem-unreachable = Kutxak ezin du ziurtagirien zerbitzuarekin hitz egin. Egiaztatu kutxak internet duela.
dash-https-problem-refused = Ziurtagirien zerbitzuak ez du ziurtagiria eman oraingoz (adibidez, gehiegitan eskatu delako).
dash-https-problem-storage = Kutxak ezin izan du ziurtagiria bere memorian irakurri edo gorde.
dash-https-problem-bad = Ziurtagiria ezin da erabili: hondatuta dago edo kutxak ulertzen ez duen motakoa da.
dash-https-retry = Kutxak berak saiatuko da berriro. Bitartean, irratiak giltzarraporik gabe jarraitzen du.
dash-https-files-retry = Kutxak lehengo ziurtagiria erabiltzen jarraitzen du, eta fitxategiak berriro irakurriko ditu aldatu bezain laster.
dash-https-detail = Xehetasun teknikoa (laguntzen dizunarentzat)

## Music between shows: the tracks the fallback plays
dash-music-title = Saioen arteko musika
dash-music-hint = Markatu kutxak, ausazko ordenan, inor zuzenean ez dagoenean jartzen dituen pistak. Bat ere markatzen ez baduzu, Teknikoa orrian aukeratutako karpeta edo liburutegi osoa jartzen du.
dash-music-empty = Oraindik ez dago musikarik liburutegian: liburutegiko karpeta batean jartzen dituzun audio-fitxategiak hemen agertuko dira.
dash-music-count = Markatuta: { $n } / { $total }
dash-music-save = Gorde zerrenda
dash-done-music = Saioen arteko musikaren zerrenda gordeta.

## Sending the stream on to Icecast servers
dash-push = Bidali emisioa Icecast zerbitzarietara ere
dash-push-hint = Zerbitzari bat lerro bakoitzeko, kudeatzaileak ematen dizun moduan: icecast://source:PASAHITZA@ZERBITZARIA:ATAKA/MUNTAKETA. .ogg-z amaitzen den muntaketa-puntuak Opus emisioa jasotzen du; beste edozeinek, MP3a (edo idatzi ogg edo mp3 helbidearen ondoren). Gordetzean, emisioa une batez berrabiarazten da.
dash-stat-pushes = Hona ere bidalia
dash-push-sending = { $server }: bidaltzen
dash-push-connecting = { $server }: konektatzen…
dash-push-failed = { $server }: ez da iristen (ikusi goiko abisua)

# System updates (the Updates card)
dash-update-title = Eguneraketak
dash-update-running = Kutxa honek { $version } bertsioa darabil.
dash-update-available = { $version } bertsioa instalatzeko prest dago ({ $size } deskargatzeko).
dash-update-notes = { $version } bertsioaren berrikuntzak
dash-update-check-failed = Bertsio berriaren azken bilaketak ez du funtzionatu: { $why }
dash-update-newest = Hau da bertsiorik berriena.
dash-update-never-checked = Oraindik ez da bertsio berririk bilatu.
dash-update-checking = Bertsio berria bilatzen…
dash-update-downloading = { $version } bertsioa deskargatzen: { $done } / { $total }. Irratiak emanaldian jarraitzen du.
dash-update-installing = { $version } bertsioa instalatzen: % { $percent }. Irratiak emanaldian jarraitzen du.
dash-update-waiting = { $version } bertsioa instalatuta dago. Kutxa hurrengo une lasaian berrabiaraziko da harekin: minutu bat inguru emanaldirik gabe.
dash-update-restarting = { $version } bertsioarekin berrabiarazten. Irratia minutu batean itzuliko da emanaldira, gutxi gorabehera.
dash-update-checked = Azken bilaketa: { $when }.
dash-update-details = Xehetasunak
dash-update-last-updated = Azken eguneraketa: { $version } bertsiora, { $when }. Ondo joan da.
dash-update-last-rolled-back = { $version } bertsioa instalatu zen baina ez zen ondo abiarazi ({ $why }); beraz, kutxa bere kabuz itzuli zen { $back } bertsiora, { $when }. Ez du bertsio hori berriz instalatuko «Eguneratu orain» sakatzen ez baduzu.
dash-update-last-failed = { $version } bertsioa ez zen instalatu, { $when }: { $why } Kutxan ez da ezer aldatu.
dash-update-why-unreachable = ezin izan da eguneraketen zerbitzarira iritsi.
dash-update-why-not-signed = ez dago streamp2p proiektuak sinatuta; beraz, baztertu egin da.
dash-update-why-other-box = beste kutxa mota baterako egina dago; beraz, baztertu egin da.
dash-update-why-damaged = deskarga hondatuta iritsi da.
dash-update-why-no-space = ez dago leku libre nahikorik ({ $need } behar dira, { $free } libre daude).
dash-update-why-install = instalatzailea errore batekin gelditu da.
dash-update-why-never-healthy = bertsio berriak ez du garaiz erantzun
dash-update-auto = Bertsio berriak bere kabuz instalatzen dira, eta kutxa une lasai batean berrabiarazten da haiekin: inoiz ez egitarauko zuzeneko saio batean, ezta estudioko ordenagailu bat konektatuta dagoenean ere.
dash-update-manual = Bertsio berriak «Eguneratu orain» sakatzen duzunean bakarrik instalatzen dira.
dash-update-make-manual = «Eguneratu orain» sakatzen dudanean bakarrik
dash-update-make-automatic = Instalatu bertsio berriak bere kabuz
dash-update-now = Eguneratu orain
dash-update-check = Bilatu orain
dash-done-update = Eguneraketa hasi da. Txartel honek erakusten du nola doan; kutxa berrabiaraziko da instalatuta dagoenean.
dash-done-update-check = Bertsio berria bilatzen.
dash-done-usb = Eginda. Entzuleek segundo gutxitan ikusiko dute aldaketa.
