# Palavras comuns a todas as páginas: unidades, datas, durações, o seletor de idioma, páginas de erro.

size-bytes = { $n } B
size-kb = { $n } kB
size-mb = { $n } MB
size-gb = { $n } GB
size-tb = { $n } TB
rate-per-second = { $size }/s
speed-kbit = { $n } kbit/s
speed-mbit = { $n } Mbit/s

date-long = { $day } de { $month ->
    [1] janeiro
    [2] fevereiro
    [3] março
    [4] abril
    [5] maio
    [6] junho
    [7] julho
    [8] agosto
    [9] setembro
    [10] outubro
    [11] novembro
   *[12] dezembro
} de { $year }

weekday = { $day ->
    [0] Segunda-feira
    [1] Terça-feira
    [2] Quarta-feira
    [3] Quinta-feira
    [4] Sexta-feira
    [5] Sábado
   *[6] Domingo
}

ago-now = agora mesmo
ago-minutes = { $n ->
    [one] há 1 minuto
   *[other] há { $n } minutos
}
ago-hours = { $n ->
    [one] há 1 hora
   *[other] há { $n } horas
}
ago-days = { $n ->
    [one] há 1 dia
   *[other] há { $n } dias
}

span-days = { $days } d { $hours } h
span-hours = { $hours } h { $minutes } min
span-minutes = { $minutes } min

language-switch = Idioma

error-not-found-title = Página não encontrada
error-not-found = Não há nada neste endereço. Talvez tenha sido movido ou apagado.
error-home = Ir para a página da rádio
error-settings = Voltar às definições da rádio
