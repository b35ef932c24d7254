#!/bin/sh
# screen: draw a fixed picture on the framebuffer console (tty1 on the CLCD; boot with a
# device tree that gives the CLCD a panel) and keep it there until power-off: the screen
# is cleared, the cursor hidden, and four lines of text written. Nothing else writes to
# tty1 (the kernel's console is ttyAMA0), so the screen at the last instruction is this.
# Last line: "ARMVEX-TEST screen PASS" or "ARMVEX-TEST screen FAIL (reason)".

[ -e /sys/class/graphics/fb0 ] || { echo "ARMVEX-TEST screen FAIL (no framebuffer)"; exit 1; }
echo "screen: fb0 $(cat /sys/class/graphics/fb0/name) $(cat /sys/class/graphics/fb0/virtual_size) $(cat /sys/class/graphics/fb0/bits_per_pixel) bpp"
printf '\033[2J\033[H\033[?25l' >/dev/tty1
printf '\033[1;33marmvex\033[0m: the Versatile Express CLCD (PL111)\n\n' >/dev/tty1
printf 'fbcon on a 640x480 panel, 16 bits per pixel\n' >/dev/tty1
printf '\033[32mgreen\033[0m \033[31mred\033[0m \033[34mblue\033[0m \033[7m inverse \033[0m\n' >/dev/tty1
echo "ARMVEX-TEST screen PASS"
