# La page de configuration : le cadre, la première mise en route, la connexion, les messages
# des formulaires et les pages d'erreur. Les parties config-… et schedule-… sont des morceaux
# de phrase (minuscule au début, sans point final) : la page en fait des phrases.

# La barre de chaque page de configuration : le choix de la langue et le guide.
admin-frame-label = Langue et aide
admin-guide-link = Mode d'emploi

# Première mise en route.
admin-setup-page-title = Mettez votre radio en route
admin-setup-title = Bienvenue
admin-setup-intro = Seule une personne qui connaît ce mot de passe pourra modifier la radio. Gardez-le en lieu sûr.
admin-setup-language = Ce boîtier diffuse votre radio, garde ses archives et les partage. Dans quelle langue voulez-vous ses pages ?
admin-setup-name-title = Comment s'appelle votre radio ?
admin-setup-name-hint = Les auditeurs le verront sur la page d'écoute et dans leurs applications de podcasts.
admin-setup-password-title = Choisissez un mot de passe pour cette page
admin-setup-change = Modifier
admin-password-new = Mot de passe (8 caractères minimum)
admin-password-again = Mot de passe, encore une fois
admin-setup-submit = Enregistrer et commencer

# Les informations de la radio, à la mise en route et dans Réglages.
admin-station-name = Nom de la radio
admin-station-language = Langue de la radio
admin-station-language-hint = Elle sert pour le podcast et les titres des enregistrements. Chaque visiteur voit toujours ces pages dans sa propre langue.

# Connexion.
admin-login-page-title = Connexion
admin-login-title = Réglages de la radio
admin-password = Mot de passe
admin-login-submit = Se connecter
admin-login-forgot = Vous l'avez oublié ? Le guide explique ce qu'on peut faire.
admin-login-forgot-link = Lire le guide
admin-login-limit = Après cinq essais ratés, cette page attend dix minutes.
admin-wrong-password = Mot de passe incorrect. Vérifiez-le et réessayez.
admin-locked = { $minutes ->
    [one] Trop de mots de passe incorrects : réessayez dans 1 minute.
   *[other] Trop de mots de passe incorrects : réessayez dans { $minutes } minutes.
}
admin-password-too-short = Le mot de passe doit avoir au moins 8 caractères.
admin-password-too-long = Le mot de passe dépasse 200 caractères.
admin-password-mismatch = Les deux mots de passe ne sont pas identiques. Tapez-les à nouveau.

# Messages à côté d'un champ de formulaire.
admin-form-store = Le boîtier n'a pas pu enregistrer ceci (voir son journal). Réessayez dans un instant.
admin-logo-none = Choisissez d'abord une image.
admin-logo-unreadable = Ce fichier n'est pas une image que le boîtier sait lire. Envoyez une image JPEG, PNG ou WebP.
admin-logo-too-big = Le fichier dépasse { $mb } Mo. Envoyez une image plus petite.
admin-logo-too-large = L'image fait { $width } × { $height } pixels ; le boîtier en accepte au plus 10000 de côté. Envoyez-en une plus petite.
admin-logo-too-small = L'image fait { $width } × { $height } pixels ; elle serait floue. Envoyez-en une d'au moins 200 de côté.
admin-whole-number = Écrivez ici un nombre entier, sans lettres ni points.
admin-changed-meanwhile = Quelqu’un a enregistré cette page pendant que tu la modifiais. La voici telle qu’elle est maintenant : refais tes modifications.
admin-usb-unknown = Ce n’est pas une clé USB de ce boîtier.
admin-language-unknown = Choisissez une des langues de la liste.
admin-text-too-long = Le titre (200 caractères) ou les notes (5000) sont trop longs.
admin-item-gone = Cet épisode n'est plus dans la bibliothèque. Rechargez la page.
admin-schedule-overlap = « { $first } » et « { $second } » se chevauchent. Changez l'horaire de l'une des deux.
admin-mirrors-full = Toutes les places de miroir sont prises : retirez-en un d'abord.
admin-mirror-gone = Ce miroir n'est plus dans la liste (il a peut-être cessé de le demander). Rechargez la page.
admin-key-not-a-key = Ceci n'est pas une clé sauvegardée depuis un boîtier streamp2p. Collez tout le texte du fichier de la clé.

# Réglages que la page (ou le fichier de configuration) ne peut pas utiliser : le problème, puis quoi faire.
admin-config-audio = « { $value } » n'est pas une entrée son
admin-config-audio-fix = utilisez alsa:PÉRIPHÉRIQUE, sine, file:CHEMIN ou none
admin-config-audio-pick = choisissez une entrée dans la liste
admin-config-public-url = « { $value } » n'est pas une adresse http(s)
admin-config-public-url-fix = écrivez-la comme http://radio.exemple.org, ou laissez-la vide
admin-config-tracker = « { $value } » n'est pas une adresse de tracker http, https ou udp
admin-config-tracker-fix = écrivez chacune comme udp://tracker.exemple.org:6969/announce
admin-config-follow = « { $value } » n'est pas l'adresse http(s) du boîtier d'une autre radio
admin-config-follow-fix = écrivez chacune comme http://radio-b.exemple.org
admin-config-max-upload = { $mb } Mo n'est pas une limite d'envoi utilisable
admin-config-max-upload-fix = choisissez une taille entre 1 et 16384 Mo, par exemple 500
admin-config-station-name = le nom de la radio doit avoir de 1 à 100 caractères
admin-config-station-name-fix = écrivez le nom sous lequel les auditeurs connaissent la radio
admin-config-description = la description dépasse 2000 caractères
admin-config-description-fix = réduisez-la à quelques phrases
admin-config-bitrate = le boîtier ne peut pas diffuser à { $kbps } kbit/s
admin-config-bitrate-fix = choisissez une valeur entre 16 et 510, par exemple 128
admin-config-library-missing = le dossier { $folder } n'existe pas
admin-config-library-missing-fix = créez-le, montez-y le disque USB ou retirez-le de la liste
admin-config-library-unreadable = le dossier { $folder } ne peut pas être lu ({ $error })
admin-config-library-unreadable-fix = donnez au boîtier le droit de le lire (ainsi que les dossiers qui le contiennent)

# Les lignes de la grille hebdomadaire.
admin-schedule-day = « { $value } » n'est pas un jour de la semaine
admin-schedule-day-fix = choisissez un jour dans la liste
admin-schedule-time = « { $value } » n'est pas une heure
admin-schedule-time-fix = écrivez les heures ainsi : 18:30
admin-schedule-order = une émission doit finir après avoir commencé
admin-schedule-order-fix = vérifiez l'heure de fin (une émission qui passe minuit : coupez-la en deux)
admin-schedule-name = une émission a besoin d'un nom de 1 à 80 caractères
admin-schedule-name-fix = écrivez le nom de l'émission

# Pages d'erreur de la configuration.
admin-error-foreign-host-title = Mauvaise adresse
admin-error-foreign-host = La page de configuration ne répond qu'à l'adresse du boîtier lui-même : son adresse IP, streamp2p.local ou l'adresse publique de la radio.
admin-error-not-local-title = Seulement depuis le réseau de la radio
admin-error-not-local = La page de configuration ne répond que sur le réseau local de la radio. Pour l'ouvrir depuis n'importe où, activez admin.allow_remote dans le fichier de configuration.
admin-error-forged-title = Modification refusée
admin-error-forged = Cette modification ne vient pas de la page de configuration de ce boîtier, ou la page était ouverte depuis trop longtemps. Revenez en arrière, rechargez la page et réessayez.
admin-error-body-title = Formulaire illisible
admin-error-body = Le boîtier n'a pas pu lire ce que le formulaire a envoyé (trop gros ou coupé). Revenez en arrière et réessayez.
admin-error-internal-title = Un problème est survenu
admin-error-internal = Le boîtier n'a pas pu faire ceci (voir son journal). Réessayez dans un instant.

# Publier depuis le téléphone : ce que la page affiche quand un envoi est refusé.
admin-upload-too-big = Ce fichier fait { $size } Mo ; l'envoi le plus gros possible est de { $max } Mo (modifiable dans Réglages).
admin-upload-no-room = Le boîtier n'a pas de place pour ce fichier. Supprimez d'abord d'anciens enregistrements.
admin-upload-chunk-too-big = Ce morceau de l'envoi est plus gros que ce que la page envoie. Rechargez la page et réessayez.
admin-upload-not-found = Cet envoi n'est plus sur le boîtier. Choisissez à nouveau le fichier.
admin-upload-too-long = Le boîtier a reçu plus que la taille du fichier. Choisissez à nouveau le fichier.
admin-upload-not-audio = Ce fichier n'est pas un son que le boîtier connaît (MP3, Ogg, Opus, FLAC, WAV ou M4A).
admin-upload-cannot-store = Le boîtier ne peut pas enregistrer d'envois pour le moment (voir son journal). Réessayez dans un instant.

# Partager : un code QR impossible à faire.
admin-qr-too-long = Ce texte est trop long pour un code QR.
admin-qr-cannot = Impossible de faire un code QR avec ceci.
admin-push-bad = « { $line } » n'est pas une adresse de serveur utilisable par la box. Écrivez-la ainsi : icecast://source:MOT_DE_PASSE@SERVEUR:PORT/POINT, avec ogg ou mp3 après si le nom du point de montage ne le dit pas.

admin-update-unknown-action = Cette page ne connaît pas ce bouton. Rechargez la page et réessayez.
