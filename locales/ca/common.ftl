# Paraules comunes a totes les pàgines: unitats, dates, durades, el selector d'idioma, pàgines d'error.

size-bytes = { $n } B
size-kb = { $n } kB
size-mb = { $n } MB
size-gb = { $n } GB
size-tb = { $n } TB
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $day } { $month ->
    [1] de gener
    [2] de febrer
    [3] de març
    [4] d’abril
    [5] de maig
    [6] de juny
    [7] de juliol
    [8] d’agost
    [9] de setembre
    [10] d’octubre
    [11] de novembre
   *[12] de desembre
} de { $year }

weekday = { $day ->
    [0] Dilluns
    [1] Dimarts
    [2] Dimecres
    [3] Dijous
    [4] Divendres
    [5] Dissabte
   *[6] Diumenge
}

ago-now = ara mateix
ago-minutes = { $n ->
    [one] fa 1 minut
   *[other] fa { $n } minuts
}
ago-hours = { $n ->
    [one] fa 1 hora
   *[other] fa { $n } hores
}
ago-days = { $n ->
    [one] fa 1 dia
   *[other] fa { $n } dies
}

span-days = { $days } d { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Idioma

error-not-found-title = No s’ha trobat la pàgina
error-not-found = No hi ha res en aquesta adreça. Potser s’ha mogut o esborrat.
error-home = Ves a la pàgina de la ràdio
error-settings = Torna als ajustos de la ràdio
