# Mots communs à toutes les pages : unités, dates, durées, le choix de la langue, pages d'erreur.

size-bytes = { $n } o
size-kb = { $n } ko
size-mb = { $n } Mo
size-gb = { $n } Go
size-tb = { $n } To
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $day ->
    [1] 1er
   *[other] { $day }
} { $month ->
    [1] janvier
    [2] février
    [3] mars
    [4] avril
    [5] mai
    [6] juin
    [7] juillet
    [8] août
    [9] septembre
    [10] octobre
    [11] novembre
   *[12] décembre
} { $year }

weekday = { $day ->
    [0] Lundi
    [1] Mardi
    [2] Mercredi
    [3] Jeudi
    [4] Vendredi
    [5] Samedi
   *[6] Dimanche
}

ago-now = à l’instant
ago-minutes = { $n ->
    [one] il y a 1 minute
   *[other] il y a { $n } minutes
}
ago-hours = { $n ->
    [one] il y a 1 heure
   *[other] il y a { $n } heures
}
ago-days = { $n ->
    [one] il y a 1 jour
   *[other] il y a { $n } jours
}

span-days = { $days } j { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Langue

error-not-found-title = Page introuvable
error-not-found = Il n’y a rien à cette adresse. Elle a peut-être été déplacée ou supprimée.
error-home = Aller à la page de la radio
error-settings = Retour aux réglages de la radio
