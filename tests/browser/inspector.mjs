// The live inspector's page in a real browser (Debian's chromium, driven by playwright-core):
// boot the Debian guest with --inspect, open the page as a new user would, check that it
// shows the CPUs, the device list, the virtio-blk queue and the GIC lines, that the
// available index on the page changes while the guest reads its disk, and save a screenshot
// (target/e2e/inspector.png) as the test's artifact.
//
//   node tests/browser/inspector.mjs        (tools/test runs it; needs target/release/armvex,
//                                            out/guest and `npm ci` in tests/browser)
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync, copyFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const guest = process.env.ARMVEX_GUEST_DIR || path.join(root, "out/guest");
const armvex = process.env.ARMVEX || path.join(root, "target/release/armvex");
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const outDir = path.join(root, "target/e2e");
mkdirSync(outDir, { recursive: true });
const disk = path.join(outDir, "inspector-browser.img");
copyFileSync(path.join(guest, "rootfs.img"), disk);

let passed = 0, failed = 0;
function check(what, ok, detail = "") {
  if (ok) { passed++; console.log(`ok: ${what}`); } else { failed++; console.log(`FAIL: ${what} ${detail}`); }
}

// The browser starts before the guest: on a loaded machine its start takes seconds, and the
// guest (about 8 s from start to power-off) must still be running when the page opens.
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox", "--disable-gpu"] });
const vm = spawn(armvex, ["run", "--machine", "vexpress-a9", "-m", "512M",
  "--kernel", path.join(guest, "vmlinuz"), "--dtb", path.join(guest, "vexpress-v2p-ca9-clcd.dtb"),
  "--initrd", path.join(guest, "initramfs.cpio.gz"),
  "--append", "console=ttyAMA0 root=/dev/vda rw armvex.test=dd armvex.dd_mb=32 armvex.smp=1",
  "--drive", `file=${disk}`, "--rtc-base", "1700000000", "--no-reboot", "--inspect", "127.0.0.1:0"],
  { stdio: ["ignore", "pipe", "pipe"] });
let console_ = "", stderr = "";
vm.stdout.on("data", (d) => (console_ += d));
const exited = new Promise((resolve) => vm.on("exit", (code) => resolve(code)));
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("armvex printed no inspector address:\n" + stderr)), 20000);
  vm.stderr.on("data", (d) => {
    stderr += d;
    const m = stderr.match(/inspector on (http:\/\/\S+)/);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
});

try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1200 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 2, null, { timeout: 30000 });
  // The follow-a-request view can only show a request's steps while they are in the MMIO
  // log's window (the last 300 accesses), i.e. while the guest uses its disk: watch for them
  // from the start (boot, mount, dd), not only after the checks below, by when dd may be over.
  const followFound = page.waitForFunction(() => document.querySelectorAll("#follow li.done").length >= 4, null, { timeout: 90000 }).then(() => true, () => false);
  check("the CPU panel shows CPU 0", (await page.textContent("#cpus")).includes("CPU 0"));
  const devices = await page.$$eval("#memory tbody tr", (rows) => rows.map((r) => r.dataset.name));
  check("the memory map lists the devices", ["uart0", "virtio0", "a9mpcore-priv", "ram", "clcd"].every((d) => devices.includes(d)), devices.join(","));
  // The guest probes virtio-blk, then mounts its root and runs dd: wait for the queue.
  const blk = '.transport[data-device="virtio-blk"]';
  await page.waitForSelector(`${blk} .avail-idx`, { timeout: 60000 });
  const idx = async () => Number(await page.textContent(`${blk} .avail-idx`));
  await page.waitForFunction((sel) => Number(document.querySelector(sel)?.textContent) > 0, `${blk} .avail-idx`, { timeout: 60000 });
  const first = await idx();
  check("the virtqueue view shows the available index", first > 0, String(first));
  await page.waitForFunction(([sel, v]) => Number(document.querySelector(sel)?.textContent) !== v, [`${blk} .avail-idx`, first], { timeout: 60000 });
  const second = await idx();
  check("the available index changes while the guest reads its disk", second !== first, `${first} -> ${second}`);
  check("virtio-blk status shows DRIVER_OK", (await page.textContent(blk)).includes("DRIVER_OK"));
  const irqRows = await page.$$eval("#irqs tbody tr", (rows) => rows.map((r) => r.cells[1].textContent));
  check("the GIC panel lists virtio0's line", irqRows.includes("virtio0"), irqRows.join(","));
  const found = await followFound;
  const steps = await page.$$eval("#follow li", (l) => l.map((li) => `${li.classList.contains("done") ? "+" : "-"}${li.querySelector("b")?.textContent}`));
  const done = steps.filter((s) => s.startsWith("+")).length;
  check("the follow-a-request view found its steps", found, `${done} of 6 now: ${steps.join(", ")}`);
  const shot = path.join(outDir, "inspector.png");
  await page.screenshot({ path: shot, fullPage: true });
  await page.screenshot({ path: path.join(outDir, "inspector-top.jpg"), type: "jpeg", quality: 70 });
  console.log(`screenshot: ${shot}`);
  check("no script errors on the page", errors.length === 0, errors.join("; "));
} catch (e) {
  check("the page test ran", false, String(e));
} finally {
  await browser.close();
}
const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("timeout"), 120000))]);
if (code === "timeout") vm.kill("SIGKILL");
check("the guest ran its test to the end under the open page", code === 0 && console_.includes("ARMVEX-TEST dd PASS"), `exit ${code}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
