# O painel (/admin depois de entrar): cada secção, os avisos e alertas, e as palavras que
# o script escreve.

# Título da página, cabeçalho e ligações para as secções.
dash-title = { $station } – definições
dash-log-out = Sair
dash-nav = Secções
dash-task-home = Início
dash-task-sound = Som e direto
dash-task-episodes = Episódios
dash-task-schedule = Programação
dash-task-share = Partilhar
dash-task-storage = USB e armazenamento
dash-task-sisters = Rádios irmãs
dash-task-settings = Definições
dash-task-technical = Técnico
dash-task-title = { $task } · { $station }
dash-welcome-step = Passo { $n } de { $of }
dash-welcome-sound-title = De onde vem o som?
dash-welcome-sound = Escolhe a entrada de som e guarda. As barras mexem-se com o som que entra, e Ouvir toca o que as pessoas vão ouvir.
dash-welcome-share-title = Como vão as pessoas chegar à rádio?
dash-welcome-share = Quem está nesta rede Wi-Fi já pode abrir as ligações abaixo. Para te ouvirem de qualquer lado, escreve o endereço público da caixa (o do teu router de internet ou o teu domínio) em Endereço público, ou deixa para depois.
dash-welcome-next = Seguinte
dash-welcome-finish = Terminar
dash-back-home = ‹ Início
dash-sound-title = Entrada de som e direto
dash-swarm-title = Números da partilha
dash-technical-title = Definições técnicas

# O que fez a última alteração (aviso verde no topo).
dash-done-saved = Guardado. A alteração já está em uso.
dash-done-restarting = Guardado. A rádio reinicia o som e a biblioteca para a aplicar: volta dentro de alguns segundos.
dash-done-schedule = Grelha guardada; as próximas gravações terão o nome dos seus programas.
dash-done-episode = O título e as notas do episódio foram guardados.
dash-done-mirror-approved = Cópia aprovada: as aplicações dos ouvintes já podem descarregar a partir dela.
dash-done-mirror-removed = Cópia retirada. Só volta à lista quando a permitires em Rádios irmãs.
dash-done-mirror-allowed = Essa caixa poderá voltar a copiar esta rádio quando o provar.

# Alertas (a vermelho, no topo): o que se passa e o que fazer.
dash-warn-settings-unreadable = Não é possível ler as definições guardadas e a caixa funciona com as de fábrica. Guarda-as de novo em Definições.
dash-warn-settings-unusable = As definições guardadas não puderam ser usadas ({ $problem }; { $fix }), por isso a caixa funciona com as de fábrica até as mudares em Definições.
dash-warn-usb-removed = { $n ->
    [one] Pen USB { $label } retirada: o seu episódio está offline até voltar.
   *[other] Pen USB { $label } retirada: os seus { $n } episódios estão offline até voltar.
}
dash-warn-no-input = Não entra som: a placa de som não responde. Verifica se está ligada; a caixa volta a tentar a cada poucos segundos e volta ao ar sozinha.
dash-warn-silence = { $secs ->
    [one] Silêncio no ar há 1 segundo. A saída da mesa está sem som ou o fader em baixo?
   *[other] Silêncio no ar há { $secs } segundos. A saída da mesa está sem som ou o fader em baixo?
}
dash-warn-push-unreachable = Não é possível chegar ao servidor Icecast { $server }. A caixa volta a tentar sozinha dentro de { $secs } s.
dash-warn-push-refused = O servidor Icecast { $server } recusou a emissão. Verifique a palavra-passe e o ponto de montagem nas definições da caixa.
dash-warn-push-dropped = A emissão para o servidor Icecast { $server } foi cortada. A caixa volta a enviá-la dentro de { $secs } s.
dash-warn-overflow = A ligação à internet da caixa está cheia. Os novos ouvintes que usam apps de rádio ou a ligação direta da emissão vão agora para o servidor Icecast { $server } (enviados até agora: { $n }). Quem já está a ouvir fica. Para sozinho quando voltar a haver espaço.
dash-warn-full-no-relay = A ligação à internet da caixa está cheia: os ouvintes que usam apps de rádio ou a ligação direta da emissão podem ouvir cortes. Para enviar os novos para outro lado quando isto acontecer, acrescenta um servidor Icecast em «Enviar também a emissão para servidores Icecast».
dash-warn-usb-missing = Falta o disco USB: { $path }. Volta a ligá-lo: os seus episódios regressam sem ser lidos outra vez.
dash-warn-disk-full = A memória da caixa está quase cheia (restam { $free }). Apaga gravações ou envios antigos, ou usa um cartão maior.
dash-warn-disk-hours = Ao ritmo atual o armazenamento da caixa fica cheio dentro de cerca de { $hours } horas, e não resta nenhuma gravação antiga que possa apagar. Apague envios, desmarque «guardar» em gravações antigas ou use um cartão maior.
dash-warn-recorder-paused = A gravação está em pausa: o armazenamento da caixa está cheio. A emissão continua. Liberte espaço e a gravação recomeça sozinha.
dash-warn-browser-tracker = Neste momento quem ouve no navegador não se consegue encontrar: a caixa não chega ao seu ponto de encontro. Verifica a ligação à internet da caixa.
dash-warn-unreadable = { $n ->
    [one] Não foi possível ler 1 ficheiro da biblioteca; aparece em Biblioteca. Os outros estão bem.
   *[other] Não foi possível ler { $n } ficheiros da biblioteca; aparecem em Biblioteca. Os outros estão bem.
}

# Em direto: estado, medidor de nível, ouvintes e gráficos do dia.
dash-air-title = Em direto
dash-air-line-in = Em direto a partir da entrada de linha
dash-air-test-tone = Tom de teste, não a tua mesa de mistura
dash-air-silent = Silêncio há { $minutes } min: verifica a mesa
dash-air-studio = Em direto a partir do computador do estúdio
dash-air-music = Música da biblioteca: ninguém em direto
dash-air-dead = Sai silêncio: não entra som e não há música para pôr
dash-air-starting = A arrancar
dash-air-no-card = Não há placa de som: verifica se está ligada
dash-air-off = Sem entrada de direto
dash-meter-quiet = Nível de som: ainda não entra som
dash-meter-now = Nível de som: esquerdo { $left } dB, direito { $right } dB
dash-level-title = Como soa agora
dash-meter-hint = As barras mexem-se com o som que entra. Verde está bem; vermelho é alto demais: baixa um pouco a saída da mesa.
dash-meter-word-none = Ainda não há som
dash-meter-word-quiet = Demasiado baixo: sobe a mesa
dash-meter-word-good = Bem
dash-meter-word-loud = Demasiado alto: baixa a mesa
dash-listen = Ouvir
dash-listen-stop = Parar de ouvir
dash-air-off-hint = Para entrar em direto, escolhe a entrada de som em
dash-stat-listeners = A ouvir agora
dash-stat-room = Cabem mais ouvintes
dash-room = { $n ->
    [0] Agora não cabem mais ouvintes.
    [one] Cabe mais 1 ouvinte.
   *[other] Cabem mais uns { $more } ouvintes.
} A caixa envia agora { $now }; o máximo que enviou em dois dias foi { $best }.
dash-room-unknown = Ainda não se sabe: a caixa aprende quanto pode enviar a partir do que envia aos ouvintes.
dash-stat-yesterday = Ontem
dash-yesterday-peak = até { $peak } ao mesmo tempo, por volta das { $time }
dash-yesterday-nobody = ninguém ouviu
dash-yesterday-none = sem dados desse dia
dash-stat-ways = Como ouvem
dash-stat-p2p = A partilhar nos navegadores
dash-stat-uptime = A funcionar há
dash-listen-ways = Emissão: { $stream } · Leitores: { $players } (a partilhar: { $sharing })
dash-two-days = Hoje e ontem
dash-chart-today = Hoje
dash-plays-download = Descarregar o que tocou (últimos 90 dias, para as entidades de gestão de direitos)
dash-graph-listeners = Ouvintes
dash-graph-upload = Envio aos ouvintes
dash-chart-listeners-today = Ouvintes hoje: até { $peak } ao mesmo tempo, agora { $now }.
dash-chart-upload-today = Envio aos ouvintes hoje: até { $peak }, agora { $now }.
dash-chart-today-none = Ainda não há dados de hoje: junta-se um ponto por minuto.
dash-chart-yesterday = Ontem: até { $peak }.
dash-chart-yesterday-none = Não há dados de ontem.

# Biblioteca: episódios partilhados, ficheiros em leitura, armazenamento, ficheiros ilegíveis.
dash-library-title = Biblioteca
dash-library-items = Episódios partilhados:
dash-hashing = A ler ficheiros novos:
dash-hashing-progress = { $done } de { $total } ficheiros ({ $bytes_done } de { $bytes_total })
dash-hashing-hint = Cada ficheiro novo é lido uma vez para ficar pronto a partilhar; uma biblioteca grande demora um pouco da primeira vez.
dash-stat-peers = A partilhar com
dash-stat-upload = A enviar agora
dash-stat-tracker = Ponto de encontro
dash-tracker-line = Episódios: { $swarms } · Dispositivos: { $peers }
dash-storage = Armazenamento
dash-storage-missing = não está (desligado?)
dash-storage-free = ligado, { $free } livres
dash-storage-present = ligado
dash-storage-none = Não há pasta de biblioteca: junta uma em Definições.
dash-problems = Ficheiros que não foi possível ler
dash-problem-link-outside = é um atalho para um sítio fora da biblioteca; copia para aqui o próprio ficheiro
dash-problem-link-loop = é um atalho para uma pasta que volta a si mesma
dash-problem-link-nowhere = é um atalho para um ficheiro que já não existe
dash-problem-name = o nome tem caracteres que a caixa não consegue ler; muda-lhe o nome
dash-problem-not-a-file = não é um ficheiro normal
dash-problem-empty = o ficheiro está vazio; copia-o de novo
dash-problem-unreadable = a caixa não o consegue ler: pode estar danificado ou a memória USB a falhar; copia-o de novo
dash-problem-changed = mudou enquanto era lido (ainda estava a ser copiado?); a caixa tenta de novo sozinha
dash-problem-not-recorded = a caixa não o conseguiu registar na sua memória; tenta de novo na próxima verificação

# Publicar um episódio (o formulário de envio e o que o script escreve).
dash-publish-title = Publicar um episódio
dash-upload-file = Ficheiro de áudio (MP3, Ogg, Opus, FLAC, WAV ou M4A, até { $max })
dash-field-title = Título
dash-field-notes = Notas
dash-field-keep = Guardar esta gravação (nunca é apagada para abrir espaço)
dash-upload-submit = Publicar
dash-upload-hint = Se o Wi-Fi falhar, escolhe outra vez o mesmo ficheiro: o envio continua onde parou.
dash-js-choose-file = Escolhe primeiro um ficheiro.
dash-js-sending = A enviar: { $done } de { $total }
dash-js-retry = Ligação perdida; a tentar de novo ({ $n })…
dash-js-published = Publicado. A caixa está a prepará-lo para partilhar; aparece na lista dentro de um minuto.
dash-js-error = Algo correu mal (erro { $status }).

# Partilhar: os endereços a divulgar, com os códigos QR.
dash-share-title = Partilhar
dash-share-anyone = Qualquer pessoa na internet pode abrir isto
dash-share-this-wifi = Quem está nesta rede Wi-Fi pode abrir isto
dash-share-no-public = Ninguém fora desta rede Wi-Fi pode abrir a rádio ainda: a caixa não tem endereço público.
dash-share-set-public = Definir o endereço público
dash-share-none = Ainda não há endereço para partilhar: as páginas só respondem neste computador.
dash-share-button = Partilhar…
dash-share-more = Mais ligações: direto e feed do podcast
dash-share-live = Direto
dash-share-feed = Podcast
dash-share-qr = Código QR de: { $what }
dash-share-address = Endereço de: { $what }
dash-copy = Copiar
dash-js-copied = Copiado
dash-js-selected = Selecionado: copia-o

# Episódios: editar o título e as notas de cada um.
dash-episodes-title = Episódios
dash-episode-edit = Editar
dash-episode-page = Página para ouvintes
dash-save = Guardar
dash-copy-magnet = Copiar ligação magnet
dash-qr-code = Código QR
dash-episodes-none = Ainda não há episódios.

# Grelha semanal.
dash-schedule-title = Grelha semanal
dash-schedule-hint = As gravações ficam com o nome do programa que está no ar; os blocos de música da biblioteca não são gravados. Apaga o nome de um programa para o retirar; a última linha junta um novo.
dash-show = Programa
dash-show-new = Programa novo
dash-show-day = Dia
dash-show-start = Começa
dash-show-end = Acaba
dash-show-kind = No ar
dash-show-kind-live = Em direto (mesa ou computador do estúdio)
dash-show-kind-playlist = Música da biblioteca
dash-schedule-save = Guardar grelha
dash-logo-title = Logótipo da rádio
dash-logo-now = O logótipo atual da rádio
dash-logo-hint = As apps de podcast, os diretórios e os ecrãs iniciais dos telemóveis mostram-no. Uma imagem quadrada fica melhor: de qualquer outra usa-se o quadrado do centro. Serve uma foto do telemóvel (JPEG, PNG ou WebP).
dash-logo-file = Imagem
dash-logo-submit = Usar esta imagem
dash-logo-remove = Voltar ao logótipo desenhado
dash-done-logo = O novo logótipo já está no sítio. As apps de podcast vão buscá-lo na próxima visita.
dash-done-logo-removed = O logótipo desenhado voltou.

# Rádios irmãs: a chave desta caixa, as rádios que segue.
dash-sisters-title = Rádios irmãs
dash-key = Chave desta caixa:
dash-key-hint = As rádios que seguem esta verificam a sua lista de episódios com esta chave. Lê-lha para a compararem. Guarda uma cópia: uma caixa de substituição com a mesma chave é de confiança desde o primeiro momento.
dash-key-download = Guardar uma cópia da chave
dash-follows = Rádios que esta caixa segue
dash-follow-key = Chave: { $key }
dash-follow-key-unseen = Chave: ainda não vista
dash-follow-retry = nova tentativa dentro de { $secs } s
dash-follow-mirrored = Episódios copiados aqui: { $mirrored } de { $items }
dash-follow-pending = Ainda sem contacto.
dash-follow-claim-ok = Essa rádio tem esta caixa na sua lista de cópias.
dash-follow-claim-refused = Essa rádio ainda não tem esta caixa na sua lista de cópias. Respondeu: { $why }
dash-follows-none = Nenhuma ainda: escreve abaixo o endereço de uma rádio.
dash-follow-unreachable = A rádio não responde. Verifica o endereço e a ligação à internet desta caixa.
dash-follow-refused = Não é possível usar este endereço: { $why }
dash-follow-not-station = Este endereço não responde como a caixa de uma rádio.
dash-follow-key-changed = A rádio assina agora com uma chave diferente da que se viu da primeira vez. Se mudou de caixa, quem a gere deve carregar a chave antiga na nova.
dash-follow-old-list = A rádio enviou uma lista de episódios mais antiga do que outra já vista.
dash-follow-local = Esta caixa não conseguiu guardar o que leu: { $why }

# Caixas que copiam esta rádio, e como correu a última verificação.
dash-mirrors-title = Caixas que copiam esta rádio
dash-mirrors-hint = Uma caixa só aparece como cópia depois de esta caixa descarregar pedaços ao acaso dos episódios que ela tem e verificar que são iguais aos daqui. Cada uma é verificada de novo com frequência e retirada se falhar.
dash-mirrors-approval = Além disso, as cópias novas esperam pela tua aprovação (Definições).
dash-mirror-listed = { $n ->
    [one] Na lista para 1 episódio.
   *[other] Na lista para { $n } episódios.
}
dash-mirror-waiting = { $n ->
    [one] Tem 1 episódio; espera pela tua aprovação.
   *[other] Tem { $n } episódios; espera pela tua aprovação.
}
dash-mirror-dropped = Fora da lista: a última verificação falhou.
dash-mirror-checked = Verificada { $ago }: { $result }.
dash-mirror-passed = Passou pela última vez { $ago }.
dash-check-matched = { $pieces ->
    [one] o pedaço pedido ao acaso é igual à cópia desta rádio
   *[other] os { $pieces } pedaços pedidos ao acaso são iguais à cópia desta rádio
}
dash-check-wrong = o pedaço { $piece } de «{ $name }» não é igual à cópia desta rádio
dash-check-unanswered = não entregou um pedaço de «{ $name }»
dash-check-nothing = não tem nenhum episódio desta rádio
dash-check-unreachable = o endereço não responde
dash-check-not-station = o endereço não responde como a caixa de uma rádio
dash-check-bad-address = o endereço não é válido
dash-check-too-slow = demorou demasiado a entregar os pedaços pedidos
dash-approve = Aprovar
dash-remove = Retirar
dash-mirrors-none = Nenhuma ainda.
dash-removed-title = Cópias retiradas
dash-removed-hint = Estas caixas não aparecem na lista, digam o que disserem, até as voltares a permitir.
dash-removed-at = retirada { $ago }
dash-allow = Voltar a permitir

# Pontos de encontro (trackers) e a chave de uma caixa antiga.
dash-trackers-title = Pontos de encontro (trackers)
dash-trackers-hint = Os pontos de encontro ajudam os ouvintes a encontrar-se. A caixa verifica cada um a cada poucos minutos; as ligações põem primeiro os que funcionam.
dash-tracker-dead = Não responde: fica fora das ligações.
dash-tracker-ok = responde em { $percent } %
dash-tracker-ok-ms = responde em { $percent } %, { $ms } ms
dash-trackers-none = Nenhum de fora por agora. O ponto de encontro da própria caixa funciona sempre; os de fora são verificados uns minutos depois de serem juntados.
dash-key-old = Usar a chave de uma caixa antiga
dash-key-saved = Chave guardada
dash-key-use = Usar esta chave

# Definições.
dash-settings-title = Definições
dash-about = Sobre a rádio
dash-audio = Entrada de som
dash-audio-none = Sem direto
dash-audio-sine = Tom de teste
dash-audio-hint = Depois de guardar, vê as barras de nível lá em cima mexerem-se com a mesa.
dash-bitrate = Qualidade da emissão (kbit/s; 128 é bom, 64 poupa dados)
dash-source-password = Palavra-passe do estúdio (para BUTT, Mixxx, Liquidsoap, ffmpeg)
dash-source-password-hint = O programa do estúdio envia a sua emissão para esta caixa como para um servidor Icecast: endereço { $url }, utilizador «source», esta palavra-passe. Passa então a estar no ar antes da entrada de linha. Vazia: nenhum estúdio se pode ligar.
dash-fallback-folder = Música entre programas: pasta da biblioteca
dash-fallback-folder-hint = Quando ninguém está em direto, a caixa toca esta pasta da biblioteca, em ordem aleatória. Vazia: toda a biblioteca.
dash-fallback-whole-library = (toda a biblioteca)
dash-library-folders = Pastas da biblioteca (uma por linha)
dash-usb-title = Pens USB
dash-usb-none = Não há nenhuma pen USB ligada.
dash-usb-root = As pens USB estão em { $folder }: cada pasta aí é uma pen.
dash-usb-away = { $n ->
    [one] retirada: 1 episódio offline até voltar
   *[other] retirada: { $n } episódios offline até voltar
}
dash-usb-stopped = { $n ->
    [one] sem partilhar: 1 episódio offline
   *[other] sem partilhar: { $n } episódios offline
}
dash-usb-shared = { $n ->
    [one] 1 ficheiro de áudio, partilhado
   *[other] { $n } ficheiros de áudio, partilhados
}
dash-usb-space = { $size }, { $free } livres
dash-usb-stop = Deixar de partilhar
dash-usb-resume = Voltar a partilhar
dash-usb-skipped = { $n ->
    [one] 1 ficheiro não pôde ser lido
   *[other] { $n } ficheiros não puderam ser lidos
}: vê porquê
dash-usb-hint = Uma pen é partilhada assim que é ligada. Se deixares de partilhar uma, continua assim, pelo nome, mesmo depois de a retirares.
dash-upload-limit = Limite de envio (KiB/s, 0 = sem limite; baixa-o se a internet de casa ficar lenta)
dash-extra-trackers = Mais pontos de encontro (trackers, um por linha)
dash-public-title = Para te ouvirem de qualquer lugar
dash-public-url = Endereço público (o do teu router de internet ou o teu domínio)
dash-max-upload = Envio máximo (MB)
dash-follow-title = Seguir outras rádios
dash-follow-field = Rádios irmãs a seguir e copiar (um endereço por linha)
dash-approve-mirrors = As cópias novas desta rádio precisam da minha aprovação antes de aparecerem
dash-remote-admin = Permitir esta página a partir de fora da rede local (só com uma palavra-passe forte)

# O router de casa abre as portas da caixa para a internet (system::portmap).
dash-reach-title = Acesso a partir da internet
dash-reach-hint = O router é o aparelho que liga a tua casa à internet. A caixa pede-lhe que abra algumas portas para que os ouvintes e outras rádios lá de fora consigam chegar até ela.
dash-reach-searching = A pedir ao teu router que abra as portas…
dash-reach-no-router = Nenhum router respondeu. Os ouvintes fora de casa podem não chegar à caixa; se o teu router tiver uma opção chamada UPnP ou NAT-PMP (abrir portas automaticamente), ativa-a.
dash-reach-open = O teu router deixa entrar os ouvintes: { $open } de { $total } portas abertas.
dash-reach-address = Endereço na internet: { $ip }
dash-reach-door-open = Porta { $port } ({ $what }): aberta
dash-reach-door-moved = Porta { $port } ({ $what }): aberta; a partir da internet chega-se pela porta { $external }
dash-reach-refused-not-allowed = O teu router disse que não à porta { $port } ({ $what }): as regras dele não o permitem a esta caixa.
dash-reach-refused-taken = O teu router disse que não à porta { $port } ({ $what }): outro aparelho já a está a usar.
dash-reach-refused-other = O teu router disse que não à porta { $port } ({ $what }): { $reason }
dash-reach-trying = Porta { $port } ({ $what }): a perguntar…
# When the router will not open some doors: how to open them by hand ($ports like "TCP 8080, UDP 6881"; $address the box's address on the home network).
dash-reach-by-hand = O que podes fazer: abre a página de definições do teu router (o endereço costuma estar numa etiqueta por baixo do aparelho), procura «reencaminhamento de portas» e envia para esta caixa ({ $address }) estas portas: { $ports }. Se o router é gerido pela tua operadora de internet, liga-lhes e pede que o façam. Entretanto a caixa continua a funcionar, mas os ouvintes fora de casa podem não chegar a ela.
dash-reach-by-hand-no-address = O que podes fazer: abre a página de definições do teu router (o endereço costuma estar numa etiqueta por baixo do aparelho), procura «reencaminhamento de portas» e envia para esta caixa estas portas: { $ports }. Se o router é gerido pela tua operadora de internet, liga-lhes e pede que o façam. Entretanto a caixa continua a funcionar, mas os ouvintes fora de casa podem não chegar a ela.
dash-reach-what-peers = para partilhar com programas BitTorrent
dash-reach-what-udp-tracker = ponto de encontro dos programas BitTorrent
dash-reach-what-web = páginas e episódios
dash-reach-what-https = páginas seguras
dash-reach-what-stun = para os ouvintes se encontrarem uns aos outros
# O cadeado do navegador (https): o certificado que a caixa pede e renova sozinha.
dash-https-title = Cadeado do navegador (https)
dash-https-valid = O certificado do cadeado é válido até { $date }.
dash-https-renews = A caixa renova-o sozinha antes de expirar.
dash-https-files = É o certificado dos ficheiros indicados na configuração: substitua-os antes dessa data.
dash-https-expired = O certificado do cadeado expirou em { $date }.
dash-https-waiting = A caixa está a pedir o certificado do cadeado para { $name }. Entretanto, a rádio funciona sem cadeado.
dash-https-problem-challenge = O serviço de certificados não conseguiu chegar à caixa pelo nome { $name }. Verifique se esse nome leva ao endereço de internet da sua casa e se o seu router deixa passar para a caixa as portas 80 e 443.
dash-https-problem-unreachable = A caixa não consegue falar com o serviço de certificados. Verifique se a caixa tem internet.
dash-https-problem-refused = O serviço de certificados não deu o certificado por agora (por exemplo, por ter sido pedido demasiadas vezes).
dash-https-problem-storage = A caixa não conseguiu ler ou guardar o certificado na sua memória.
dash-https-problem-bad = O certificado não pode ser usado: está danificado ou não é de um tipo que a caixa entenda.
dash-https-retry = A caixa vai tentar de novo sozinha. Entretanto, a rádio continua a funcionar sem cadeado.
dash-https-files-retry = A caixa continua a usar o certificado que tinha e volta a ler os ficheiros assim que mudarem.
dash-https-detail = Pormenor técnico (para quem o ajudar)

## Music between shows: the tracks the fallback plays
dash-music-title = Música entre programas
dash-music-hint = Marque as faixas que a caixa toca, em ordem aleatória, quando ninguém está em direto. Se não marcar nenhuma, toca a pasta escolhida na página Técnico ou toda a biblioteca.
dash-music-empty = Ainda não há música na biblioteca: os ficheiros de áudio que puser numa pasta da biblioteca aparecem aqui.
dash-music-count = Marcadas: { $n } de { $total }
dash-music-save = Guardar a lista
dash-done-music = Lista de música entre programas guardada.

## Sending the stream on to Icecast servers
dash-push = Enviar também a emissão para servidores Icecast
dash-push-hint = Um servidor por linha, tal como quem o gere lho dá: icecast://source:PALAVRA-PASSE@SERVIDOR:PORTA/PONTO. Um ponto de montagem que acaba em .ogg recebe a emissão Opus; qualquer outro, a MP3 (ou escreva ogg ou mp3 depois do endereço). Ao guardar, a emissão reinicia por um momento.
dash-stat-pushes = Enviada também para
dash-push-sending = { $server }: a enviar
dash-push-connecting = { $server }: a ligar…
dash-push-failed = { $server }: não se alcança (veja o aviso acima)

# System updates (the Updates card)
dash-update-title = Atualizações
dash-update-running = Esta caixa funciona com a versão { $version }.
dash-update-available = A versão { $version } está pronta para instalar ({ $size } para descarregar).
dash-update-notes = Novidades da versão { $version }
dash-update-check-failed = A última procura de uma versão nova não funcionou: { $why }
dash-update-newest = É a versão mais recente.
dash-update-never-checked = Ainda não se procurou uma versão nova.
dash-update-checking = A procurar uma versão nova…
dash-update-downloading = A descarregar a versão { $version }: { $done } de { $total }. A rádio continua no ar.
dash-update-installing = A instalar a versão { $version }: { $percent } %. A rádio continua no ar.
dash-update-waiting = A versão { $version } está instalada. A caixa reinicia com ela no próximo momento calmo: cerca de um minuto fora do ar.
dash-update-restarting = A reiniciar com a versão { $version }. A rádio volta ao ar dentro de um minuto, mais ou menos.
dash-update-checked = Última procura: { $when }.
dash-update-details = Detalhes
dash-update-last-updated = Última atualização: para a versão { $version }, { $when }. Correu bem.
dash-update-last-rolled-back = A versão { $version } foi instalada mas não arrancou bem ({ $why }), por isso a caixa voltou sozinha à versão { $back }, { $when }. Não voltará a instalar essa versão a menos que carregue em «Atualizar agora».
dash-update-last-failed = A versão { $version } não foi instalada, { $when }: { $why } Nada mudou na caixa.
dash-update-why-unreachable = não foi possível chegar ao servidor de atualizações.
dash-update-why-not-signed = não está assinada pelo projeto streamp2p, por isso foi recusada.
dash-update-why-other-box = foi feita para outro tipo de caixa, por isso foi recusada.
dash-update-why-damaged = a transferência chegou danificada.
dash-update-why-no-space = não há espaço livre suficiente (são precisos { $need }, há { $free } livres).
dash-update-why-install = o instalador parou com um erro.
dash-update-why-never-healthy = a versão nova não respondeu a tempo
dash-update-auto = As versões novas instalam-se sozinhas e a caixa reinicia com elas num momento calmo: nunca durante um programa em direto da grelha, nunca com um computador do estúdio ligado.
dash-update-manual = As versões novas só se instalam quando carrega em «Atualizar agora».
dash-update-make-manual = Só quando eu carregar em «Atualizar agora»
dash-update-make-automatic = Instalar sozinhas as versões novas
dash-update-now = Atualizar agora
dash-update-check = Procurar agora
dash-done-update = A atualização começou. Este cartão mostra como corre; a caixa reinicia quando estiver instalada.
dash-done-update-check = A procurar uma versão nova.
dash-done-usb = Feito. Quem ouve vai ver a alteração dentro de segundos.
