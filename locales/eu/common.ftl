# Orri guztietako hitzak: unitateak, datak, iraupenak, hizkuntza-hautatzailea, errore-orriak.

size-bytes = { $n } B
size-kb = { $n } kB
size-mb = { $n } MB
size-gb = { $n } GB
size-tb = { $n } TB
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $year }ko { $month ->
    [1] urtarrilaren
    [2] otsailaren
    [3] martxoaren
    [4] apirilaren
    [5] maiatzaren
    [6] ekainaren
    [7] uztailaren
    [8] abuztuaren
    [9] irailaren
    [10] urriaren
    [11] azaroaren
   *[12] abenduaren
} { $day }a

weekday = { $day ->
    [0] Astelehena
    [1] Asteartea
    [2] Asteazkena
    [3] Osteguna
    [4] Ostirala
    [5] Larunbata
   *[6] Igandea
}

ago-now = oraintxe
ago-minutes = { $n ->
    [one] duela minutu 1
   *[other] duela { $n } minutu
}
ago-hours = { $n ->
    [one] duela ordu 1
   *[other] duela { $n } ordu
}
ago-days = { $n ->
    [one] duela egun 1
   *[other] duela { $n } egun
}

span-days = { $days } e { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Hizkuntza

error-not-found-title = Ez da orria aurkitu
error-not-found = Helbide honetan ez dago ezer. Agian lekuz aldatu edo ezabatu egin da.
error-home = Joan irratiaren orrira
error-settings = Itzuli irratiaren ezarpenetara
