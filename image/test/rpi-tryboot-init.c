/*
 * The only program of the initramfs that image/test/rpi-tryboot-qemu.sh boots under qemu's
 * raspi3b: loads the watchdog (the Pi's restart) and streamp2p_tryboot, then restarts with the
 * argument the image's reboot service gives the kernel, as systemd would: "0 tryboot" when the
 * kernel command line has streamp2p_reboot=tryboot (the kernel hands it over as environment),
 * "0" otherwise. With streamp2p_tryboot=off it leaves the module out: the control run, which
 * shows what Debian's kernel alone does with "0 tryboot".
 */
#include <fcntl.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
		printf("rpi-tryboot-init: cannot load %s: %m\n", path);
		return -1;
	}
	close(fd);
	printf("rpi-tryboot-init: loaded %s\n", path);
	return 0;
}

int main(void)
{
	const char *mode = getenv("streamp2p_reboot");
	const char *module = getenv("streamp2p_tryboot");
	const char *arg = mode && strcmp(mode, "tryboot") == 0 ? "0 tryboot" : "0";
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
	failed = load("/bcm2835_wdt.ko");
	if (!(module && strcmp(module, "off") == 0))
		failed = failed || load("/streamp2p_tryboot.ko");
	if (failed)
		printf("rpi-tryboot-init: RESULT module-load-failed\n");
	printf("rpi-tryboot-init: restarting with \"%s\"\n", arg);
	sync();
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART2, arg);
	printf("rpi-tryboot-init: RESULT reboot-failed: %m\n");
	for (;;)
		pause();
}
