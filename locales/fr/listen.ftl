# The listen page (src/web/page.rs), the status lines its script writes, the podcast feed and the recordings' titles.

# The listen page: the live row and its states.
listen-live-heading = En direct
listen-live-title = { $station } en direct
listen-live-play = Écouter en direct
listen-state-on-air = À l’antenne
listen-now-playing = En ce moment : { $what }
listen-state-starting = Démarrage…
listen-state-no-input = Hors antenne pour le moment : aucun son n’arrive du studio

# The episode list, each episode's play button (read aloud by screen readers) and its length, and the footer.
listen-episodes = Épisodes
listen-empty = Pas encore d’épisodes. Quand la clé USB de la radio est branchée, ses épisodes apparaissent ici d’eux-mêmes.
listen-footer = Écouter ici partage aussi ce que vous entendez, en direct ou un épisode, avec d’autres auditeurs : la radio utilise ainsi moins sa propre connexion internet.
listen-play = Écouter { $title }
listen-seconds = { $n } s

# An episode's own page (/episode/...): the way back to the list, and the page for an episode no longer there.
listen-all-episodes = Tous les épisodes de { $station }
listen-episode-missing-title = Épisode introuvable
listen-episode-missing = Cet épisode n’est plus sur cette station. Ses autres émissions sont toujours là.

# The player: the loading bar (read aloud) and the links under it.
listen-progress = Partie téléchargée
listen-download = Télécharger
listen-other-apps = Autres applications
listen-magnet = Lien magnet
listen-torrent = Fichier torrent

# Status lines the page's script writes (src/web/assets/listen.js); the script fills the values.
listen-js-connecting = Connexion…
listen-js-stats = Épisode · sources : { $sources } · { $speed } · téléchargé : { $loaded } · reçu d’autres auditeurs : { $share } · partagé : { $shared }
listen-js-no-sharing = Le partage entre auditeurs ne marche pas ici ; lecture directe depuis la radio.
listen-js-from-station = Lecture directe depuis la radio.
listen-js-sharing-stopped = Le partage avec les autres auditeurs s’est arrêté.
listen-js-episode-offline = Cet épisode est hors ligne pour l’instant : la copie de la radio a été débranchée. Il reprendra à son retour, ou grâce à d’autres auditeurs qui l’ont.
listen-js-episode-loading = Ce type de fichier ne se lit qu’une fois l’épisode entièrement téléchargé ; téléchargement…
listen-js-episode-paused = En pause. Tant que la page reste ouverte, vous partagez avec d’autres auditeurs ce que vous avez déjà téléchargé.
listen-js-episode-ended = L’épisode est terminé. Tant que la page reste ouverte, vous le partagez avec d’autres auditeurs.
listen-js-live-connecting = Connexion au direct…
listen-js-live-playing = Lecture du direct.
listen-js-live-from-station = Lecture du direct depuis la radio.
listen-js-live-stats = En direct · auditeurs connectés : { $peers } · reçu d’autres auditeurs : { $share } · partagé : { $shared }
listen-js-live-fallback = Le lecteur a eu un problème ; lecture du direct depuis la radio.

# The podcast feed (src/web/feed.rs), in the station's language.
listen-feed-description = Épisodes de { $station }
listen-feed-sources = Web, entre auditeurs et miroirs

# The title of a recording of what went on air (src/live/recorder.rs), in the station's language.
listen-recording-title = { $who } — { $date }, { $time }
