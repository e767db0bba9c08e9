# A página de configuração: a moldura, o primeiro arranque, a entrada, as mensagens dos
# formulários e as páginas de erro. As partes config-… e schedule-… são pedaços de frase
# (começam em minúscula e sem ponto final): a página junta-os em frases.

# A barra de todas as páginas de configuração: o seletor de língua e o guia.
admin-frame-label = Língua e ajuda
admin-guide-link = Guia de utilização

# Primeiro arranque.
admin-setup-page-title = Põe a tua rádio a funcionar
admin-setup-title = Boas-vindas
admin-setup-intro = Só quem souber esta palavra-passe poderá mudar a rádio. Guarda-a num lugar seguro.
admin-setup-language = Esta caixa emite a tua rádio, guarda o seu arquivo e partilha-o. Em que língua queres as suas páginas?
admin-setup-name-title = Como se chama a tua rádio?
admin-setup-name-hint = Os ouvintes vão vê-lo na página para ouvir e nas suas aplicações de podcasts.
admin-setup-password-title = Escolhe uma palavra-passe para esta página
admin-setup-change = Mudar
admin-password-new = Palavra-passe (mínimo 8 caracteres)
admin-password-again = Repete a palavra-passe
admin-setup-submit = Guardar e começar

# Os dados da rádio, no primeiro arranque e nas Definições.
admin-station-name = Nome da rádio
admin-station-language = Língua da rádio
admin-station-language-hint = É usada no podcast e nos títulos das gravações. Cada visitante continua a ver estas páginas na sua língua.

# Entrada.
admin-login-page-title = Entrar
admin-login-title = Definições da rádio
admin-password = Palavra-passe
admin-login-submit = Entrar
admin-login-forgot = Esqueceste-a? O guia explica o que se pode fazer.
admin-login-forgot-link = Ler o guia
admin-login-limit = Depois de cinco tentativas erradas, esta página espera dez minutos.
admin-wrong-password = Palavra-passe errada. Verifica-a e tenta outra vez.
admin-locked = { $minutes ->
    [one] Demasiadas palavras-passe erradas: tenta outra vez daqui a 1 minuto.
   *[other] Demasiadas palavras-passe erradas: tenta outra vez daqui a { $minutes } minutos.
}
admin-password-too-short = A palavra-passe tem de ter pelo menos 8 caracteres.
admin-password-too-long = A palavra-passe tem mais de 200 caracteres.
admin-password-mismatch = As duas palavras-passe não são iguais. Escreve-as outra vez.

# Mensagens junto a um campo de um formulário.
admin-form-store = A caixa não conseguiu guardar isto (vê o registo dela). Tenta outra vez daqui a pouco.
admin-logo-none = Escolhe primeiro uma imagem.
admin-logo-unreadable = Este ficheiro não é uma imagem que a caixa saiba ler. Envia uma imagem JPEG, PNG ou WebP.
admin-logo-too-big = O ficheiro tem mais de { $mb } MB. Envia uma imagem mais pequena.
admin-logo-too-large = A imagem tem { $width } × { $height } píxeis; a caixa aceita no máximo 10000 de lado. Envia uma mais pequena.
admin-logo-too-small = A imagem tem { $width } × { $height } píxeis; ficaria desfocada. Envia uma com pelo menos 200 de lado.
admin-whole-number = Escreve aqui um número inteiro, sem letras nem pontos.
admin-changed-meanwhile = Alguém guardou esta página enquanto a alteravas. Aqui está como está agora: volta a fazer as tuas alterações.
admin-usb-unknown = Isso não é uma pen USB desta caixa.
admin-language-unknown = Escolhe uma das línguas da lista.
admin-text-too-long = O título (200 caracteres) ou as notas (5000) são demasiado longos.
admin-item-gone = Este episódio já não está na biblioteca. Recarrega a página.
admin-schedule-overlap = «{ $first }» e «{ $second }» sobrepõem-se. Muda o horário de um deles.
admin-mirrors-full = Já não há lugares para espelhos: retira um primeiro.
admin-mirror-gone = Este espelho já não está na lista (talvez tenha deixado de o pedir). Recarrega a página.
admin-key-not-a-key = Isto não é uma chave guardada a partir de uma caixa streamp2p. Cola o texto completo do ficheiro da chave.

# Definições que a página (ou o ficheiro de configuração) não pode usar: o que está mal e o que fazer.
admin-config-audio = «{ $value }» não é uma entrada de som
admin-config-audio-fix = usa alsa:DISPOSITIVO, sine, file:CAMINHO ou none
admin-config-audio-pick = escolhe uma entrada da lista
admin-config-public-url = «{ $value }» não é um endereço http(s)
admin-config-public-url-fix = escreve-o como http://radio.exemplo.org, ou deixa-o vazio
admin-config-tracker = «{ $value }» não é um endereço de rastreador http, https ou udp
admin-config-tracker-fix = escreve cada um como udp://tracker.exemplo.org:6969/announce
admin-config-follow = «{ $value }» não é o endereço http(s) da caixa de outra rádio
admin-config-follow-fix = escreve cada um como http://radio-b.exemplo.org
admin-config-max-upload = { $mb } MB não serve como limite de envio
admin-config-max-upload-fix = usa um tamanho entre 1 e 16384 MB, por exemplo 500
admin-config-station-name = o nome da rádio tem de ter entre 1 e 100 caracteres
admin-config-station-name-fix = escreve o nome pelo qual os ouvintes conhecem a rádio
admin-config-description = a descrição tem mais de 2000 caracteres
admin-config-description-fix = reduz-a a algumas frases
admin-config-bitrate = a caixa não consegue emitir a { $kbps } kbit/s
admin-config-bitrate-fix = usa um valor entre 16 e 510, por exemplo 128
admin-config-library-missing = a pasta { $folder } não existe
admin-config-library-missing-fix = cria-a, monta lá o disco USB ou retira-a da lista
admin-config-library-unreadable = a pasta { $folder } não pode ser lida ({ $error })
admin-config-library-unreadable-fix = dá à caixa permissão de leitura sobre ela (e sobre as pastas que a contêm)

# As linhas da programação semanal.
admin-schedule-day = «{ $value }» não é um dia da semana
admin-schedule-day-fix = escolhe um dia da lista
admin-schedule-time = «{ $value }» não é uma hora
admin-schedule-time-fix = escreve as horas assim: 18:30
admin-schedule-order = um programa tem de acabar depois de começar
admin-schedule-order-fix = verifica a hora de fim (se um programa passa da meia-noite, divide-o em dois)
admin-schedule-name = um programa precisa de um nome de 1 a 80 caracteres
admin-schedule-name-fix = escreve o nome do programa

# Páginas de erro da configuração.
admin-error-foreign-host-title = Endereço errado
admin-error-foreign-host = A página de configuração só responde no endereço da própria caixa: o seu endereço IP, streamp2p.local ou o endereço público da rádio.
admin-error-not-local-title = Só a partir da rede da rádio
admin-error-not-local = A página de configuração só responde dentro da rede local da rádio. Para a abrir a partir de qualquer lado, ativa admin.allow_remote no ficheiro de configuração.
admin-error-forged-title = Alteração não feita
admin-error-forged = Esta alteração não vem da página de configuração desta caixa, ou a página estava aberta há demasiado tempo. Volta atrás, recarrega a página e tenta outra vez.
admin-error-body-title = Formulário não lido
admin-error-body = A caixa não conseguiu ler o que o formulário enviou (demasiado grande ou cortado). Volta atrás e tenta outra vez.
admin-error-internal-title = Algo correu mal
admin-error-internal = A caixa não conseguiu fazer isto (vê o registo dela). Tenta outra vez daqui a pouco.

# Publicar a partir do telemóvel: o que a página mostra quando um envio é recusado.
admin-upload-too-big = Este ficheiro tem { $size } MB; o máximo que se pode enviar são { $max } MB (muda-se nas Definições).
admin-upload-no-room = A caixa não tem espaço para este ficheiro. Apaga primeiro gravações antigas.
admin-upload-chunk-too-big = Este pedaço do envio é maior do que a página envia. Recarrega a página e tenta outra vez.
admin-upload-not-found = Este envio já não está na caixa. Escolhe o ficheiro outra vez.
admin-upload-too-long = A caixa recebeu mais do que o tamanho do ficheiro. Escolhe o ficheiro outra vez.
admin-upload-not-audio = Este ficheiro não é um áudio que a caixa conheça (MP3, Ogg, Opus, FLAC, WAV ou M4A).
admin-upload-cannot-store = Neste momento a caixa não consegue guardar envios (vê o registo dela). Tenta outra vez daqui a pouco.

# Partilhar: um código QR que não se pode fazer.
admin-qr-too-long = Este texto é demasiado longo para um código QR.
admin-qr-cannot = Não é possível fazer um código QR com isto.
admin-push-bad = «{ $line }» não é um endereço de servidor que a caixa possa usar. Escreva-o assim: icecast://source:PALAVRA-PASSE@SERVIDOR:PORTA/PONTO, com ogg ou mp3 a seguir se o nome do ponto de montagem não o disser.

admin-update-unknown-action = Esta página não conhece esse botão. Recarregue a página e tente de novo.
