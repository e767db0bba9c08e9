# Le tableau de bord (/admin une fois connecté) : chaque section, ses messages et alertes,
# et les mots que son script écrit.

# Titre de la page, en-tête et liens vers les sections.
dash-title = { $station } – réglages
dash-log-out = Se déconnecter
dash-nav = Sections
dash-task-home = Accueil
dash-task-sound = Son et direct
dash-task-episodes = Épisodes
dash-task-schedule = Grille
dash-task-share = Partager
dash-task-storage = USB et stockage
dash-task-sisters = Stations sœurs
dash-task-settings = Réglages
dash-task-technical = Technique
dash-task-title = { $task } · { $station }
dash-welcome-step = Étape { $n } sur { $of }
dash-welcome-sound-title = D’où vient le son ?
dash-welcome-sound = Choisis l’entrée son et enregistre. Les barres bougent avec le son qui arrive, et Écouter joue ce que le public entendra.
dash-welcome-share-title = Comment le public rejoindra-t-il la station ?
dash-welcome-share = Les personnes sur ce Wi-Fi peuvent ouvrir les liens ci-dessous tout de suite. Pour être écouté de partout, écris l’adresse publique du boîtier (celle de ta box internet ou ton domaine) sous Adresse publique, ou laisse ça pour plus tard.
dash-welcome-next = Suivant
dash-welcome-finish = Terminer
dash-back-home = ‹ Accueil
dash-sound-title = Entrée son et direct
dash-swarm-title = Chiffres du partage
dash-technical-title = Réglages techniques

# Ce qu'a fait la dernière modification (message vert en haut).
dash-done-saved = Enregistré. La modification est déjà appliquée.
dash-done-restarting = Enregistré. La radio redémarre le son et la bibliothèque pour l'appliquer : retour dans quelques secondes.
dash-done-schedule = Grille enregistrée ; les prochains enregistrements porteront le nom de ses émissions.
dash-done-episode = Le titre et les notes de l'épisode sont enregistrés.
dash-done-mirror-approved = Copie approuvée : les applis des auditeurs peuvent déjà y télécharger.
dash-done-mirror-removed = Copie retirée. Elle ne revient dans la liste que si tu l'autorises dans Radios sœurs.
dash-done-mirror-allowed = Ce boîtier pourra de nouveau copier cette radio quand il l'aura prouvé.

# Alertes (en rouge, en haut) : ce qui ne va pas et quoi faire.
dash-warn-settings-unreadable = Les réglages enregistrés sont illisibles : la boîte tourne avec ses réglages d’origine. Enregistrez-les de nouveau dans Réglages.
dash-warn-settings-unusable = Vos réglages enregistrés n’ont pas pu être utilisés ({ $problem } ; { $fix }) : la boîte tourne avec ses réglages d’origine jusqu’à ce que vous les changiez dans Réglages.
dash-warn-usb-removed = { $n ->
    [one] Clé USB { $label } retirée : son épisode est hors ligne jusqu’à son retour.
   *[other] Clé USB { $label } retirée : ses { $n } épisodes sont hors ligne jusqu’à son retour.
}
dash-warn-no-input = Aucun son n'arrive : la carte son ne répond pas. Vérifie qu'elle est branchée ; le boîtier réessaie toutes les quelques secondes et revient à l'antenne tout seul.
dash-warn-silence = { $secs ->
    [one] Silence à l'antenne depuis 1 seconde. La sortie de la table est-elle coupée ou son fader baissé ?
   *[other] Silence à l'antenne depuis { $secs } secondes. La sortie de la table est-elle coupée ou son fader baissé ?
}
dash-warn-push-unreachable = Le serveur Icecast { $server } est injoignable. La box réessaie toute seule dans { $secs } s.
dash-warn-push-refused = Le serveur Icecast { $server } a refusé le flux. Vérifiez son mot de passe et son point de montage dans les réglages de la box.
dash-warn-push-dropped = Le flux vers le serveur Icecast { $server } a été coupé. La box le renvoie dans { $secs } s.
dash-warn-overflow = La connexion internet de la box est pleine. Les nouveaux auditeurs qui utilisent une appli radio ou le lien direct du flux vont maintenant sur le serveur Icecast { $server } (envoyés jusqu'ici : { $n }). Ceux qui écoutent déjà restent. Cela s'arrête tout seul quand il y a de nouveau de la place.
dash-warn-full-no-relay = La connexion internet de la box est pleine : les auditeurs qui utilisent une appli radio ou le lien direct du flux peuvent entendre des coupures. Pour envoyer les nouveaux ailleurs quand cela arrive, ajoute un serveur Icecast dans « Envoyer aussi le direct à des serveurs Icecast ».
dash-warn-usb-missing = Disque USB absent : { $path }. Rebranche-le : ses épisodes reviennent sans être relus.
dash-warn-disk-full = La mémoire du boîtier est presque pleine (il reste { $free }). Supprime d'anciens enregistrements ou envois, ou utilise une carte plus grande.
dash-warn-disk-hours = Au rythme actuel, le stockage de la box sera plein dans environ { $hours } heures, et il ne reste aucun ancien enregistrement qu'elle puisse effacer. Supprimez des envois, décochez « garder » sur d'anciens enregistrements ou utilisez une carte plus grande.
dash-warn-recorder-paused = L'enregistrement est en pause : le stockage de la box est plein. Le flux continue. Libérez de la place et l'enregistrement reprend tout seul.
dash-warn-browser-tracker = Pour l'instant, les auditeurs sur navigateur ne peuvent pas se trouver : le boîtier n'atteint pas leur point de rencontre. Vérifie la connexion internet du boîtier.
dash-warn-unreadable = { $n ->
    [one] 1 fichier de la bibliothèque n'a pas pu être lu ; il est listé dans Bibliothèque. Les autres vont bien.
   *[other] { $n } fichiers de la bibliothèque n'ont pas pu être lus ; ils sont listés dans Bibliothèque. Les autres vont bien.
}

# À l'antenne : état, vumètre, auditeurs et courbes du jour.
dash-air-title = À l'antenne
dash-air-line-in = En direct depuis l’entrée ligne
dash-air-test-tone = Tonalité de test, pas ta table de mixage
dash-air-silent = Silence depuis { $minutes } min : vérifie la table
dash-air-studio = En direct depuis l’ordinateur du studio
dash-air-music = Musique de la bibliothèque : personne en direct
dash-air-dead = Du silence part à l’antenne : aucun son n’arrive et il n’y a pas de musique à passer
dash-air-starting = Démarrage
dash-air-no-card = Pas de carte son : vérifie qu’elle est branchée
dash-air-off = Aucune entrée en direct
dash-meter-quiet = Niveau sonore : pas encore de son
dash-meter-now = Niveau sonore : gauche { $left } dB, droite { $right } dB
dash-level-title = Le son en ce moment
dash-meter-hint = Les barres bougent avec le son qui arrive. Vert, c'est bien ; rouge, c'est trop fort : baisse un peu la sortie de la table.
dash-meter-word-none = Pas encore de son
dash-meter-word-quiet = Trop faible : monte la table
dash-meter-word-good = Bien
dash-meter-word-loud = Trop fort : baisse la table
dash-listen = Écouter
dash-listen-stop = Arrêter d’écouter
dash-air-off-hint = Pour passer en direct, choisis l'entrée son dans
dash-stat-listeners = À l'écoute
dash-stat-room = Place pour d'autres auditeurs
dash-room = { $n ->
    [0] Plus de place pour d'autres auditeurs pour l'instant.
    [one] Encore 1 auditeur possible.
   *[other] Encore environ { $more } auditeurs possibles.
} Le boîtier envoie { $now } en ce moment ; le plus rapide en deux jours : { $best }.
dash-room-unknown = Pas encore connu : le boîtier apprend ce qu'il peut envoyer à partir de ce qu'il envoie aux auditeurs.
dash-stat-yesterday = Hier
dash-yesterday-peak = jusqu'à { $peak } en même temps, vers { $time }
dash-yesterday-nobody = personne n'a écouté
dash-yesterday-none = pas de données pour ce jour-là
dash-stat-ways = Comment ils écoutent
dash-stat-p2p = Partage entre navigateurs
dash-stat-uptime = En marche depuis
dash-listen-ways = Flux : { $stream } · Lecteurs : { $players } (partage : { $sharing })
dash-two-days = Aujourd'hui et hier
dash-chart-today = Aujourd'hui
dash-plays-download = Télécharger ce qui a été diffusé (90 derniers jours, pour les sociétés de gestion des droits)
dash-graph-listeners = Auditeurs
dash-graph-upload = Envoi aux auditeurs
dash-chart-listeners-today = Auditeurs aujourd'hui : jusqu'à { $peak } en même temps, maintenant { $now }.
dash-chart-upload-today = Envoi aux auditeurs aujourd'hui : jusqu'à { $peak }, maintenant { $now }.
dash-chart-today-none = Pas encore de données aujourd'hui : un point est ajouté chaque minute.
dash-chart-yesterday = Hier : jusqu'à { $peak }.
dash-chart-yesterday-none = Pas de données pour hier.

# Bibliothèque : épisodes partagés, fichiers en lecture, stockage, fichiers illisibles.
dash-library-title = Bibliothèque
dash-library-items = Épisodes partagés :
dash-hashing = Lecture des nouveaux fichiers :
dash-hashing-progress = { $done } fichiers sur { $total } ({ $bytes_done } sur { $bytes_total })
dash-hashing-hint = Chaque nouveau fichier est lu une fois pour être prêt au partage ; une grande bibliothèque prend un moment la première fois.
dash-stat-peers = Partage avec
dash-stat-upload = Envoi en ce moment
dash-stat-tracker = Point de rencontre
dash-tracker-line = Épisodes : { $swarms } · Appareils : { $peers }
dash-storage = Stockage
dash-storage-missing = absent (débranché ?)
dash-storage-free = branché, { $free } libres
dash-storage-present = branché
dash-storage-none = Aucun dossier de bibliothèque : ajoute-en un dans Réglages.
dash-problems = Fichiers qui n'ont pas pu être lus
dash-problem-link-outside = c’est un raccourci vers un endroit hors de la bibliothèque ; copiez ici le fichier lui-même
dash-problem-link-loop = c’est un raccourci de dossier qui revient sur lui-même
dash-problem-link-nowhere = c’est un raccourci vers un fichier qui n’existe plus
dash-problem-name = son nom contient des caractères que la boîte ne sait pas lire ; renommez-le
dash-problem-not-a-file = ce n’est pas un fichier ordinaire
dash-problem-empty = le fichier est vide ; copiez-le de nouveau
dash-problem-unreadable = la boîte ne peut pas le lire : il est peut-être abîmé, ou la clé USB défaillante ; copiez-le de nouveau
dash-problem-changed = il a changé pendant la lecture (copie en cours ?) ; la boîte réessaie d’elle-même
dash-problem-not-recorded = la boîte n’a pas pu le noter dans sa propre mémoire ; elle réessaie à la prochaine vérification

# Publier un épisode (le formulaire d'envoi et ce qu'écrit son script).
dash-publish-title = Publier un épisode
dash-upload-file = Fichier audio (MP3, Ogg, Opus, FLAC, WAV ou M4A, jusqu'à { $max })
dash-field-title = Titre
dash-field-notes = Notes
dash-field-keep = Garder cet enregistrement (il n'est jamais effacé pour faire de la place)
dash-upload-submit = Publier
dash-upload-hint = Si le wifi coupe, choisis de nouveau le même fichier : l'envoi reprend là où il s'était arrêté.
dash-js-choose-file = Choisis d'abord un fichier.
dash-js-sending = Envoi : { $done } sur { $total }
dash-js-retry = Connexion perdue ; nouvel essai ({ $n })…
dash-js-published = Publié. Le boîtier le prépare pour le partage ; il apparaîtra dans la liste d'ici une minute.
dash-js-error = Quelque chose n'a pas marché (erreur { $status }).

# Partager : les adresses à diffuser, avec leurs codes QR.
dash-share-title = Partager
dash-share-anyone = N’importe qui sur internet peut ouvrir ceci
dash-share-this-wifi = Les personnes sur ce Wi-Fi peuvent ouvrir ceci
dash-share-no-public = Personne en dehors de ce Wi-Fi ne peut encore ouvrir la station : le boîtier n’a pas d’adresse publique.
dash-share-set-public = Indiquer l’adresse publique
dash-share-none = Pas encore d’adresse à partager : les pages ne répondent que sur cet ordinateur.
dash-share-button = Partager…
dash-share-more = Plus de liens : direct et flux du podcast
dash-share-live = Direct
dash-share-feed = Podcast
dash-share-qr = Code QR de : { $what }
dash-share-address = Adresse de : { $what }
dash-copy = Copier
dash-js-copied = Copié
dash-js-selected = Sélectionné : copie-le

# Épisodes : modifier le titre et les notes de chacun.
dash-episodes-title = Épisodes
dash-episode-edit = Modifier
dash-episode-page = Page pour les auditeurs
dash-save = Enregistrer
dash-copy-magnet = Copier le lien magnet
dash-qr-code = Code QR
dash-episodes-none = Pas encore d'épisodes.

# Grille hebdomadaire.
dash-schedule-title = Grille de la semaine
dash-schedule-hint = Les enregistrements portent le nom de l'émission à l'antenne ; les créneaux de musique de la bibliothèque ne sont pas enregistrés. Vide le nom d'une émission pour la retirer ; la dernière ligne en ajoute une.
dash-show = Émission
dash-show-new = Nouvelle émission
dash-show-day = Jour
dash-show-start = Début
dash-show-end = Fin
dash-show-kind = À l'antenne
dash-show-kind-live = En direct (table de mixage ou ordinateur du studio)
dash-show-kind-playlist = Musique de la bibliothèque
dash-schedule-save = Enregistrer la grille
dash-logo-title = Logo de la radio
dash-logo-now = Le logo actuel de la radio
dash-logo-hint = Les applis de podcast, les annuaires et les écrans d'accueil des téléphones l'affichent. Une image carrée rend mieux : pour toute autre, le carré du centre est utilisé. Une photo du téléphone convient (JPEG, PNG ou WebP).
dash-logo-file = Image
dash-logo-submit = Utiliser cette image
dash-logo-remove = Revenir au logo dessiné
dash-done-logo = Le nouveau logo est en place. Les applis de podcast le prendront à leur prochain passage.
dash-done-logo-removed = Le logo dessiné est revenu.

# Radios sœurs : la clé de ce boîtier, les radios qu'il suit.
dash-sisters-title = Radios sœurs
dash-key = Clé de ce boîtier :
dash-key-hint = Les radios qui suivent celle-ci vérifient sa liste d'épisodes avec cette clé. Lis-la-leur pour la comparer. Garde-en une copie : un boîtier de remplacement avec la même clé est reconnu tout de suite.
dash-key-download = Enregistrer une copie de la clé
dash-follows = Radios suivies par ce boîtier
dash-follow-key = Clé : { $key }
dash-follow-key-unseen = Clé : pas encore vue
dash-follow-retry = prochain essai dans { $secs } s
dash-follow-mirrored = Épisodes copiés ici : { $mirrored } sur { $items }
dash-follow-pending = Pas encore contactée.
dash-follow-claim-ok = Cette radio compte ce boîtier parmi ses copies.
dash-follow-claim-refused = Cette radio ne compte pas encore ce boîtier parmi ses copies. Sa réponse : { $why }
dash-follows-none = Aucune pour l'instant : écris l'adresse d'une radio ci-dessous.
dash-follow-unreachable = La radio ne répond pas. Vérifie son adresse et la connexion internet de ce boîtier.
dash-follow-refused = Cette adresse ne peut pas être utilisée : { $why }
dash-follow-not-station = Cette adresse ne répond pas comme le boîtier d'une radio.
dash-follow-key-changed = La radio signe maintenant avec une autre clé que celle vue la première fois. Si elle a changé de boîtier, la personne qui s'en occupe doit charger l'ancienne clé dans le nouveau.
dash-follow-old-list = La radio a envoyé une liste d'épisodes plus ancienne qu'une liste déjà vue.
dash-follow-local = Ce boîtier n'a pas pu garder ce qu'il a lu : { $why }

# Boîtiers qui copient cette radio, et comment s'est passée leur dernière vérification.
dash-mirrors-title = Boîtiers qui copient cette radio
dash-mirrors-hint = Un boîtier n'est listé comme copie qu'après que ce boîtier a téléchargé des morceaux au hasard des épisodes qu'il détient et les a trouvés identiques à ceux d'ici. Chacun est revérifié régulièrement et retiré s'il échoue.
dash-mirrors-approval = Les nouvelles copies attendent aussi ton accord (Réglages).
dash-mirror-listed = { $n ->
    [one] Listé pour 1 épisode.
   *[other] Listé pour { $n } épisodes.
}
dash-mirror-waiting = { $n ->
    [one] Détient 1 épisode ; attend ton accord.
   *[other] Détient { $n } épisodes ; attend ton accord.
}
dash-mirror-dropped = Hors de la liste : sa dernière vérification a échoué.
dash-mirror-checked = Vérifié { $ago } : { $result }.
dash-mirror-passed = Dernière réussite { $ago }.
dash-check-matched = { $pieces ->
    [one] le morceau demandé au hasard est identique à la copie de cette radio
   *[other] les { $pieces } morceaux demandés au hasard sont identiques à la copie de cette radio
}
dash-check-wrong = le morceau { $piece } de « { $name } » n'est pas identique à la copie de cette radio
dash-check-unanswered = il n'a pas fourni un morceau de « { $name } »
dash-check-nothing = il ne détient aucun épisode de cette radio
dash-check-unreachable = son adresse ne répond pas
dash-check-not-station = son adresse ne répond pas comme le boîtier d'une radio
dash-check-bad-address = son adresse n'est pas valide
dash-check-too-slow = trop lent à fournir les morceaux demandés
dash-approve = Approuver
dash-remove = Retirer
dash-mirrors-none = Aucun pour l'instant.
dash-removed-title = Copies retirées
dash-removed-hint = Ces boîtiers ne sont pas listés, quoi qu'ils prétendent, tant que tu ne les autorises pas de nouveau.
dash-removed-at = retiré { $ago }
dash-allow = Autoriser de nouveau

# Points de rencontre (trackers) et la clé d'un ancien boîtier.
dash-trackers-title = Points de rencontre (trackers)
dash-trackers-hint = Les points de rencontre aident les auditeurs à se trouver. Le boîtier vérifie chacun toutes les quelques minutes ; les liens mettent d'abord ceux qui marchent.
dash-tracker-dead = Ne répond pas : laissé hors des liens.
dash-tracker-ok = { $percent } % de réponses
dash-tracker-ok-ms = { $percent } % de réponses, { $ms } ms
dash-trackers-none = Aucun de l'extérieur pour l'instant. Le point de rencontre du boîtier lui-même marche toujours ; ceux de l'extérieur sont vérifiés quelques minutes après leur ajout.
dash-key-old = Utiliser la clé d'un ancien boîtier
dash-key-saved = Clé enregistrée
dash-key-use = Utiliser cette clé

# Réglages.
dash-settings-title = Réglages
dash-about = À propos de la radio
dash-audio = Entrée son
dash-audio-none = Pas de direct
dash-audio-sine = Son de test
dash-audio-hint = Après l'enregistrement, regarde les barres de niveau plus haut bouger avec la table.
dash-bitrate = Qualité du flux (kbit/s ; 128 c'est bien, 64 économise des données)
dash-source-password = Mot de passe du studio (pour BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = Le logiciel du studio envoie son flux à cette box comme à un serveur Icecast : adresse { $url }, utilisateur « source », ce mot de passe. Il passe alors à l'antenne avant l'entrée ligne. Vide : aucun studio ne peut se connecter.
dash-fallback-folder = Musique entre les émissions : dossier de la bibliothèque
dash-fallback-folder-hint = Quand personne n'est en direct, la box diffuse ce dossier de la bibliothèque, dans un ordre aléatoire. Vide : toute la bibliothèque.
dash-fallback-whole-library = (toute la bibliothèque)
dash-library-folders = Dossiers de la bibliothèque (un par ligne)
dash-usb-title = Clés USB
dash-usb-none = Aucune clé USB branchée.
dash-usb-root = Les clés USB sont dans { $folder } : chaque dossier y est une clé.
dash-usb-away = { $n ->
    [one] retirée : 1 épisode hors ligne jusqu’à son retour
   *[other] retirée : { $n } épisodes hors ligne jusqu’à son retour
}
dash-usb-stopped = { $n ->
    [one] non partagée : 1 épisode hors ligne
   *[other] non partagée : { $n } épisodes hors ligne
}
dash-usb-shared = { $n ->
    [one] 1 fichier audio, partagé
   *[other] { $n } fichiers audio, partagés
}
dash-usb-space = { $size }, { $free } libres
dash-usb-stop = Arrêter le partage
dash-usb-resume = Partager à nouveau
dash-usb-skipped = { $n ->
    [one] { $n } fichier n'a pas pu être lu
   *[other] { $n } fichiers n'ont pas pu être lus
} : voir pourquoi
dash-usb-hint = Une clé est partagée dès qu’elle est branchée. Une clé dont tu arrêtes le partage le reste, par son nom, même après l’avoir retirée.
dash-upload-limit = Limite d'envoi (Kio/s, 0 = sans limite ; baisse-la si internet à la maison ralentit)
dash-extra-trackers = Autres points de rencontre (trackers, un par ligne)
dash-public-title = Pour être écouté de partout
dash-public-url = Adresse publique (celle de ta box internet ou ton domaine)
dash-max-upload = Envoi maximal (Mo)
dash-follow-title = Suivre d'autres radios
dash-follow-field = Radios sœurs à suivre et copier (une adresse par ligne)
dash-approve-mirrors = Les nouvelles copies de cette radio doivent avoir mon accord avant d'être listées
dash-remote-admin = Autoriser cette page depuis l'extérieur du réseau local (seulement avec un mot de passe solide)

# Le routeur de la maison ouvre les portes du boîtier vers internet (system::portmap).
dash-reach-title = Accès depuis internet
dash-reach-hint = Le routeur (ta box internet) est l'appareil qui relie ta maison à internet. Le boîtier lui demande d'ouvrir quelques portes (ports) pour que les auditeurs et les autres radios de l'extérieur puissent l'atteindre.
dash-reach-searching = Demande en cours à ton routeur pour ouvrir les portes…
dash-reach-no-router = Aucun routeur n'a répondu. Les auditeurs hors de chez toi risquent de ne pas atteindre le boîtier ; si ton routeur a une option appelée UPnP ou NAT-PMP (ouverture automatique des portes), active-la.
dash-reach-open = Ton routeur laisse entrer les auditeurs : { $open } portes ouvertes sur { $total }.
dash-reach-address = Adresse sur internet : { $ip }
dash-reach-door-open = Port { $port } ({ $what }) : ouvert
dash-reach-door-moved = Port { $port } ({ $what }) : ouvert ; depuis internet, on arrive par le port { $external }
dash-reach-refused-not-allowed = Ton routeur a refusé le port { $port } ({ $what }) : ses règles ne l'autorisent pas pour ce boîtier.
dash-reach-refused-taken = Ton routeur a refusé le port { $port } ({ $what }) : un autre appareil l'utilise déjà.
dash-reach-refused-other = Ton routeur a refusé le port { $port } ({ $what }) : { $reason }
dash-reach-trying = Port { $port } ({ $what }) : demande en cours…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = Ce que tu peux faire : ouvre la page de réglages de ton routeur (son adresse est souvent sur une étiquette sous l'appareil), cherche « redirection de ports » et envoie vers ce boîtier ({ $address }) ces ports : { $ports }. Si c'est ton fournisseur d'accès qui gère le routeur, appelle-le et demande-lui de le faire. En attendant, le boîtier continue de fonctionner, mais les auditeurs hors de chez toi risquent de ne pas l'atteindre.
dash-reach-by-hand-no-address = Ce que tu peux faire : ouvre la page de réglages de ton routeur (son adresse est souvent sur une étiquette sous l'appareil), cherche « redirection de ports » et envoie vers ce boîtier ces ports : { $ports }. Si c'est ton fournisseur d'accès qui gère le routeur, appelle-le et demande-lui de le faire. En attendant, le boîtier continue de fonctionner, mais les auditeurs hors de chez toi risquent de ne pas l'atteindre.
dash-reach-what-peers = pour partager avec les logiciels BitTorrent
dash-reach-what-udp-tracker = point de rencontre des logiciels BitTorrent
dash-reach-what-web = pages et épisodes
dash-reach-what-https = pages sécurisées
dash-reach-what-stun = pour que les auditeurs se trouvent entre eux
# Le cadenas du navigateur (https) : le certificat que le boîtier demande et renouvelle seul.
dash-https-title = Cadenas du navigateur (https)
dash-https-valid = Le certificat du cadenas est valable jusqu’au { $date }.
dash-https-renews = Le boîtier le renouvelle seul avant qu’il n’expire.
dash-https-files = C’est le certificat des fichiers indiqués dans la configuration : remplacez-les avant cette date.
dash-https-expired = Le certificat du cadenas a expiré le { $date }.
dash-https-waiting = Le boîtier demande le certificat du cadenas pour { $name }. En attendant, la radio fonctionne sans cadenas.
dash-https-problem-challenge = Le service de certificats n’a pas pu joindre le boîtier sous le nom { $name }. Vérifiez que ce nom mène à l’adresse internet de votre domicile et que votre box laisse passer les ports 80 et 443 vers le boîtier.
dash-https-problem-unreachable = Le boîtier n’arrive pas à joindre le service de certificats. Vérifiez que le boîtier a accès à internet.
dash-https-problem-refused = Le service de certificats n’a pas délivré le certificat pour l’instant (par exemple parce qu’il a été demandé trop souvent).
dash-https-problem-storage = Le boîtier n’a pas pu lire ou enregistrer le certificat dans sa mémoire.
dash-https-problem-bad = Le certificat est inutilisable : il est abîmé ou d’un type que le boîtier ne comprend pas.
dash-https-retry = Le boîtier réessaiera seul. En attendant, la radio continue de fonctionner sans cadenas.
dash-https-files-retry = Le boîtier continue d’utiliser le certificat qu’il avait et relit les fichiers dès qu’ils changent.
dash-https-detail = Détail technique (pour la personne qui vous aide)

## Music between shows: the tracks the fallback plays
dash-music-title = Musique entre les émissions
dash-music-hint = Cochez les morceaux que la box diffuse, dans un ordre aléatoire, quand personne n'est en direct. Si aucun n'est coché, elle diffuse le dossier choisi sur la page Technique, ou toute la bibliothèque.
dash-music-empty = Pas encore de musique dans la bibliothèque : les fichiers audio placés dans un dossier de la bibliothèque apparaîtront ici.
dash-music-count = Cochés : { $n } sur { $total }
dash-music-save = Enregistrer la liste
dash-done-music = Liste de musique entre les émissions enregistrée.

## Sending the stream on to Icecast servers
dash-push = Envoyer aussi le direct à des serveurs Icecast
dash-push-hint = Un serveur par ligne, tel que son responsable vous le donne : icecast://source:MOT_DE_PASSE@SERVEUR:PORT/POINT. Un point de montage finissant par .ogg reçoit le flux Opus, tout autre le flux MP3 (ou écrivez ogg ou mp3 après l'adresse). L'enregistrement redémarre le direct un instant.
dash-stat-pushes = Envoyé aussi à
dash-push-sending = { $server } : envoi en cours
dash-push-connecting = { $server } : connexion…
dash-push-failed = { $server } : injoignable (voir l'alerte plus haut)

# System updates (the Updates card)
dash-update-title = Mises à jour
dash-update-running = Ce boîtier fonctionne avec la version { $version }.
dash-update-available = La version { $version } est prête à être installée ({ $size } à télécharger).
dash-update-notes = Nouveautés de la version { $version }
dash-update-check-failed = La dernière recherche d’une nouvelle version n’a pas fonctionné : { $why }
dash-update-newest = C’est la version la plus récente.
dash-update-never-checked = Aucune nouvelle version n’a encore été recherchée.
dash-update-checking = Recherche d’une nouvelle version…
dash-update-downloading = Téléchargement de la version { $version } : { $done } sur { $total }. La radio reste à l’antenne.
dash-update-installing = Installation de la version { $version } : { $percent } %. La radio reste à l’antenne.
dash-update-waiting = La version { $version } est installée. Le boîtier redémarre avec elle au prochain moment calme : environ une minute hors antenne.
dash-update-restarting = Redémarrage avec la version { $version }. La radio revient à l’antenne dans une minute environ.
dash-update-checked = Dernière recherche : { $when }.
dash-update-details = Détails
dash-update-last-updated = Dernière mise à jour : vers la version { $version }, { $when }. Tout s’est bien passé.
dash-update-last-rolled-back = La version { $version } a été installée mais n’a pas bien démarré ({ $why }) ; le boîtier est donc revenu tout seul à la version { $back }, { $when }. Il ne réinstallera pas cette version à moins que vous n’appuyiez sur « Mettre à jour ».
dash-update-last-failed = La version { $version } n’a pas été installée, { $when } : { $why } Rien n’a changé sur le boîtier.
dash-update-why-unreachable = le serveur de mises à jour était injoignable.
dash-update-why-not-signed = elle n’est pas signée par le projet streamp2p, elle a donc été refusée.
dash-update-why-other-box = elle est faite pour un autre type de boîtier, elle a donc été refusée.
dash-update-why-damaged = le téléchargement est arrivé abîmé.
dash-update-why-no-space = il n’y a pas assez d’espace libre ({ $need } nécessaires, { $free } libres).
dash-update-why-install = l’installateur s’est arrêté sur une erreur.
dash-update-why-never-healthy = la nouvelle version n’a pas répondu à temps
dash-update-auto = Les nouvelles versions s’installent toutes seules et le boîtier redémarre avec elles à un moment calme : jamais pendant une émission en direct de la grille, jamais quand un ordinateur du studio est connecté.
dash-update-manual = Les nouvelles versions ne s’installent que lorsque vous appuyez sur « Mettre à jour ».
dash-update-make-manual = Seulement quand j’appuie sur « Mettre à jour »
dash-update-make-automatic = Installer les nouvelles versions toutes seules
dash-update-now = Mettre à jour
dash-update-check = Chercher maintenant
dash-done-update = La mise à jour a commencé. Cette carte montre où elle en est ; le boîtier redémarre une fois qu’elle est installée.
dash-done-update-check = Recherche d’une nouvelle version.
dash-done-usb = C’est fait. Les auditeurs verront le changement dans quelques secondes.
