# Palabras comúns a todas as páxinas: unidades, datas, duracións, o selector de idioma, páxinas de erro.

size-bytes = { $n } B
size-kb = { $n } kB
size-mb = { $n } MB
size-gb = { $n } GB
size-tb = { $n } TB
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $day } de { $month ->
    [1] xaneiro
    [2] febreiro
    [3] marzo
    [4] abril
    [5] maio
    [6] xuño
    [7] xullo
    [8] agosto
    [9] setembro
    [10] outubro
    [11] novembro
   *[12] decembro
} de { $year }

weekday = { $day ->
    [0] Luns
    [1] Martes
    [2] Mércores
    [3] Xoves
    [4] Venres
    [5] Sábado
   *[6] Domingo
}

ago-now = agora mesmo
ago-minutes = { $n ->
    [one] hai 1 minuto
   *[other] hai { $n } minutos
}
ago-hours = { $n ->
    [one] hai 1 hora
   *[other] hai { $n } horas
}
ago-days = { $n ->
    [one] hai 1 día
   *[other] hai { $n } días
}

span-days = { $days } d { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Idioma

error-not-found-title = Non se atopou a páxina
error-not-found = Non hai nada neste enderezo. Quizais se moveu ou se borrou.
error-home = Ir á páxina da radio
error-settings = Volver aos axustes da radio
