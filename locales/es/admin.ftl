# La página de configuración: el marco, la primera puesta en marcha, la entrada, los mensajes
# de sus formularios y sus páginas de error. Las partes config-… y schedule-… son trozos de frase
# (empiezan en minúscula y sin punto final): la página las junta en frases.

# La barra de todas las páginas de configuración: el selector de idioma y la guía.
admin-frame-label = Idioma y ayuda
admin-guide-link = Guía de uso

# Primera puesta en marcha.
admin-setup-page-title = Pon en marcha tu radio
admin-setup-title = Bienvenida
admin-setup-intro = Solo quien sepa esta contraseña podrá cambiar la radio. Guárdala en un lugar seguro.
admin-setup-language = Esta caja emite tu radio, guarda su archivo y lo comparte. ¿En qué idioma quieres sus páginas?
admin-setup-name-title = ¿Cómo se llama tu radio?
admin-setup-name-hint = La gente lo verá en la página para escuchar y en sus aplicaciones de pódcast.
admin-setup-password-title = Elige una contraseña para esta página
admin-setup-change = Cambiar
admin-password-new = Contraseña (mínimo 8 caracteres)
admin-password-again = Repite la contraseña
admin-setup-submit = Guardar y empezar

# Los datos de la radio, en la puesta en marcha y en Ajustes.
admin-station-name = Nombre de la radio
admin-station-language = Idioma de la radio
admin-station-language-hint = Se usa en el podcast y en los títulos de las grabaciones. Cada visitante sigue viendo estas páginas en su idioma.

# Entrada.
admin-login-page-title = Entrar
admin-login-title = Ajustes de la radio
admin-password = Contraseña
admin-login-submit = Entrar
admin-login-forgot = ¿La has olvidado? La guía explica qué se puede hacer.
admin-login-forgot-link = Leer la guía
admin-login-limit = Tras cinco intentos fallidos, esta página espera diez minutos.
admin-wrong-password = Contraseña incorrecta. Revísala y vuelve a intentarlo.
admin-locked = { $minutes ->
    [one] Demasiadas contraseñas incorrectas: vuelve a intentarlo dentro de 1 minuto.
   *[other] Demasiadas contraseñas incorrectas: vuelve a intentarlo dentro de { $minutes } minutos.
}
admin-password-too-short = La contraseña debe tener al menos 8 caracteres.
admin-password-too-long = La contraseña tiene más de 200 caracteres.
admin-password-mismatch = Las dos contraseñas no coinciden. Escríbelas otra vez.

# Mensajes junto a un campo de un formulario.
admin-form-store = La caja no ha podido guardar esto (mira su registro). Inténtalo de nuevo en un momento.
admin-logo-none = Elige primero una imagen.
admin-logo-unreadable = Este archivo no es una imagen que la caja sepa leer. Envía una imagen JPEG, PNG o WebP.
admin-logo-too-big = El archivo pasa de { $mb } MB. Envía una imagen más pequeña.
admin-logo-too-large = La imagen mide { $width } × { $height } píxeles; la caja acepta como mucho 10000 por lado. Envía una más pequeña.
admin-logo-too-small = La imagen mide { $width } × { $height } píxeles; se vería borrosa. Envía una de al menos 200 por lado.
admin-whole-number = Escribe aquí un número entero, sin letras ni puntos.
admin-changed-meanwhile = Alguien guardó esta página mientras la cambiabas. Aquí está tal como está ahora: vuelve a hacer tus cambios.
admin-usb-unknown = Eso no es una memoria USB de esta caja.
admin-language-unknown = Elige uno de los idiomas de la lista.
admin-text-too-long = El título (200 caracteres) o las notas (5000) son demasiado largos.
admin-item-gone = Este episodio ya no está en la biblioteca. Recarga la página.
admin-schedule-overlap = «{ $first }» y «{ $second }» se solapan. Cambia el horario de uno de los dos.
admin-mirrors-full = Ya no quedan plazas para espejos: quita uno primero.
admin-mirror-gone = Este espejo ya no está en la lista (puede que haya dejado de pedirlo). Recarga la página.
admin-key-not-a-key = Esto no es una clave guardada desde una caja streamp2p. Pega el texto completo del archivo de la clave.

# Ajustes que la página (o el archivo de configuración) no puede usar: qué falla y qué hacer.
admin-config-audio = «{ $value }» no es una entrada de sonido
admin-config-audio-fix = usa alsa:DISPOSITIVO, sine, file:RUTA o none
admin-config-audio-pick = elige una entrada de la lista
admin-config-public-url = «{ $value }» no es una dirección http(s)
admin-config-public-url-fix = escríbela como http://radio.ejemplo.org, o déjala vacía
admin-config-tracker = «{ $value }» no es una dirección de rastreador http, https o udp
admin-config-tracker-fix = escribe cada una como udp://tracker.ejemplo.org:6969/announce
admin-config-follow = «{ $value }» no es la dirección http(s) de la caja de otra radio
admin-config-follow-fix = escribe cada una como http://radio-b.ejemplo.org
admin-config-max-upload = { $mb } MB no sirve como límite de subida
admin-config-max-upload-fix = usa un tamaño entre 1 y 16384 MB, por ejemplo 500
admin-config-station-name = el nombre de la radio debe tener entre 1 y 100 caracteres
admin-config-station-name-fix = escribe el nombre con el que te conocen quienes te escuchan
admin-config-description = la descripción tiene más de 2000 caracteres
admin-config-description-fix = déjala en unas pocas frases
admin-config-bitrate = la caja no puede emitir a { $kbps } kbit/s
admin-config-bitrate-fix = usa un valor entre 16 y 510, por ejemplo 128
admin-config-library-missing = la carpeta { $folder } no existe
admin-config-library-missing-fix = créala, monta ahí el disco USB o quítala de la lista
admin-config-library-unreadable = la carpeta { $folder } no se puede leer ({ $error })
admin-config-library-unreadable-fix = da permiso de lectura a la caja sobre ella (y sobre las carpetas que la contienen)

# Las filas de la programación semanal.
admin-schedule-day = «{ $value }» no es un día de la semana
admin-schedule-day-fix = elige un día de la lista
admin-schedule-time = «{ $value }» no es una hora
admin-schedule-time-fix = escribe las horas así: 18:30
admin-schedule-order = un programa debe terminar después de empezar
admin-schedule-order-fix = revisa la hora de fin (si un programa pasa de medianoche, pártelo en dos)
admin-schedule-name = un programa necesita un nombre de 1 a 80 caracteres
admin-schedule-name-fix = escribe el nombre del programa

# Páginas de error de la configuración.
admin-error-foreign-host-title = Dirección equivocada
admin-error-foreign-host = La página de configuración solo responde en la dirección de la propia caja: su dirección IP, streamp2p.local o la dirección pública de la radio.
admin-error-not-local-title = Solo desde la red de la radio
admin-error-not-local = La página de configuración solo responde dentro de la red local de la radio. Para abrirla desde cualquier sitio, activa admin.allow_remote en el archivo de configuración.
admin-error-forged-title = Cambio no hecho
admin-error-forged = Este cambio no viene de la página de configuración de esta caja, o la página llevaba demasiado tiempo abierta. Vuelve atrás, recarga la página e inténtalo de nuevo.
admin-error-body-title = Formulario no leído
admin-error-body = La caja no ha podido leer lo que envió el formulario (demasiado grande o cortado). Vuelve atrás e inténtalo de nuevo.
admin-error-internal-title = Algo ha fallado
admin-error-internal = La caja no ha podido hacer esto (mira su registro). Inténtalo de nuevo en un momento.

# Publicar desde el móvil: lo que muestra la página cuando se rechaza una subida.
admin-upload-too-big = Este archivo ocupa { $size } MB; lo máximo que se puede subir son { $max } MB (se cambia en Ajustes).
admin-upload-no-room = La caja no tiene sitio para este archivo. Borra primero grabaciones antiguas.
admin-upload-chunk-too-big = Este trozo de la subida es mayor de lo que envía la página. Recarga la página e inténtalo de nuevo.
admin-upload-not-found = Esta subida ya no está en la caja. Vuelve a elegir el archivo.
admin-upload-too-long = La caja ha recibido más de lo que ocupa el archivo. Vuelve a elegir el archivo.
admin-upload-not-audio = Este archivo no es un audio que la caja conozca (MP3, Ogg, Opus, FLAC, WAV o M4A).
admin-upload-cannot-store = Ahora mismo la caja no puede guardar subidas (mira su registro). Inténtalo de nuevo en un momento.

# Compartir: un código QR que no se puede hacer.
admin-qr-too-long = Este texto es demasiado largo para un código QR.
admin-qr-cannot = No se puede hacer un código QR con esto.
admin-push-bad = «{ $line }» no es una dirección de servidor que la caja pueda usar. Escríbela así: icecast://source:CONTRASEÑA@SERVIDOR:PUERTO/PUNTO, con ogg o mp3 detrás si el nombre del punto de montaje no lo dice.

admin-update-unknown-action = Esta página no conoce ese botón. Recarga la página y vuelve a probar.
