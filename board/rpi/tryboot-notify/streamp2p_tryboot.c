// SPDX-License-Identifier: GPL-2.0
/*
 * Passes the "tryboot" reboot argument on to the Raspberry Pi firmware.
 *
 * The firmware's A/B (autoboot.txt, tryboot_a_b=1) boots the other slot once when its
 * one-shot "tryboot" reboot flag is set. The flag is set through the VideoCore mailbox
 * property SET_REBOOT_FLAGS. The Raspberry Pi kernel's firmware driver does that when the
 * reboot argument contains " tryboot" (`reboot "0 tryboot"`); mainline Linux, and so
 * Debian's linux-image-arm64, does not, and an installed update would never be tried.
 *
 * This module adds just that: a reboot notifier that sends SET_REBOOT_FLAGS (1 for a
 * tryboot restart, 0 otherwise, so a stale flag never survives a plain reboot) through the
 * mainline firmware driver's property interface. Reboot notifiers run before devices shut
 * down, so the mailbox is still up. The firmware driver's own shutdown hook then sends
 * NOTIFY_REBOOT as on any reboot.
 */
#include <linux/module.h>
#include <linux/of.h>
#include <linux/reboot.h>
#include <linux/string.h>
#include <soc/bcm2835/raspberrypi-firmware.h>

/* Not in mainline's enum rpi_firmware_property_tag; the value the firmware answers to. */
#define STREAMP2P_SET_REBOOT_FLAGS 0x00038064
#define STREAMP2P_REBOOT_FLAG_TRYBOOT 0x1

/*
 * The firmware's device-tree node. As a device table it also gives the module the firmware's
 * modalias, so udev loads it on any board that has this firmware (and only there); it is never
 * registered as a driver: the mainline firmware driver stays the firmware's driver.
 */
static const struct of_device_id streamp2p_tryboot_firmware[] = {
	{ .compatible = "raspberrypi,bcm2835-firmware" },
	{}
};
MODULE_DEVICE_TABLE(of, streamp2p_tryboot_firmware);

static struct device_node *firmware_node;

/* The argument is "<partition> [flags...]"; "tryboot" must be one of the flags. */
static bool wants_tryboot(const char *arg)
{
	const char *p;

	if (!arg)
		return false;
	for (p = strstr(arg, "tryboot"); p; p = strstr(p + 1, "tryboot")) {
		bool starts = p != arg && p[-1] == ' ';
		char end = p[strlen("tryboot")];

		if (starts && (end == '\0' || end == ' '))
			return true;
	}
	return false;
}

static int streamp2p_tryboot_notify(struct notifier_block *nb, unsigned long action, void *data)
{
	struct rpi_firmware *fw;
	u32 want, buf;
	int ret;

	if (action != SYS_RESTART)
		return NOTIFY_DONE;
	/* Looked up now, not at load: the firmware driver may have bound after this module. */
	fw = rpi_firmware_get(firmware_node);
	if (!fw) {
		pr_warn("streamp2p_tryboot: Raspberry Pi firmware driver not bound; reboot flags left as they are\n");
		return NOTIFY_DONE;
	}
	want = wants_tryboot(data) ? STREAMP2P_REBOOT_FLAG_TRYBOOT : 0;
	/* The property call writes the firmware's answer back into the buffer. */
	buf = want;
	ret = rpi_firmware_property(fw, STREAMP2P_SET_REBOOT_FLAGS, &buf, sizeof(buf));
	rpi_firmware_put(fw);
	if (ret)
		pr_err("streamp2p_tryboot: the firmware refused the reboot flags %#x: %d\n", want, ret);
	else
		pr_info("streamp2p_tryboot: reboot flags set to %#x (%s)\n", want,
			want ? "try the other slot once" : "plain restart");
	return NOTIFY_DONE;
}

static struct notifier_block streamp2p_tryboot_nb = {
	.notifier_call = streamp2p_tryboot_notify,
};

static int __init streamp2p_tryboot_init(void)
{
	int ret;

	firmware_node = of_find_matching_node(NULL, streamp2p_tryboot_firmware);
	if (!firmware_node)
		return -ENODEV;
	ret = register_reboot_notifier(&streamp2p_tryboot_nb);
	if (ret)
		of_node_put(firmware_node);
	return ret;
}

static void __exit streamp2p_tryboot_exit(void)
{
	unregister_reboot_notifier(&streamp2p_tryboot_nb);
	of_node_put(firmware_node);
}

module_init(streamp2p_tryboot_init);
module_exit(streamp2p_tryboot_exit);

MODULE_DESCRIPTION("streamp2p: pass reboot \"0 tryboot\" on to the Raspberry Pi firmware");
MODULE_LICENSE("GPL");
