# Palabras comunes a todas las páginas: unidades, fechas, duraciones, el selector de idioma, páginas de error.

size-bytes = { $n } B
size-kb = { $n } kB
size-mb = { $n } MB
size-gb = { $n } GB
size-tb = { $n } TB
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $day } de { $month ->
    [1] enero
    [2] febrero
    [3] marzo
    [4] abril
    [5] mayo
    [6] junio
    [7] julio
    [8] agosto
    [9] septiembre
    [10] octubre
    [11] noviembre
   *[12] diciembre
} de { $year }

weekday = { $day ->
    [0] Lunes
    [1] Martes
    [2] Miércoles
    [3] Jueves
    [4] Viernes
    [5] Sábado
   *[6] Domingo
}

ago-now = ahora mismo
ago-minutes = { $n ->
    [one] hace 1 minuto
   *[other] hace { $n } minutos
}
ago-hours = { $n ->
    [one] hace 1 hora
   *[other] hace { $n } horas
}
ago-days = { $n ->
    [one] hace 1 día
   *[other] hace { $n } días
}

span-days = { $days } d { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Idioma

error-not-found-title = Página no encontrada
error-not-found = No hay nada en esta dirección. Puede que se haya movido o borrado.
error-home = Ir a la página de la radio
error-settings = Volver a los ajustes de la radio
