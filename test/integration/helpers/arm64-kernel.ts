/**
 * A stand-in Linux kernel for U-Boot's `booti`: a valid arm64 Image header (magic
 * "ARM\x64", text_offset 0, image size, flags "4K pages, anywhere in RAM") followed by ten
 * hand-assembled instructions that print a line to QEMU virt's PL011 UART at 0x09000000
 * and power off through PSCI SYSTEM_OFF (hvc). Each deployment's image prints its own tag,
 * so a test sees which kernel really started, not just what the script said.
 */

const CODE = [
  0x10000141, // adr  x1, message            (0x40 + 0x28 = 0x68)
  0xd2a12002, // movz x2, #0x0900, lsl #16    UART data register 0x09000000
  0x38401423, // loop: ldrb w3, [x1], #1
  0x34000063, // cbz  w3, done
  0x39000043, // strb w3, [x2]
  0x17fffffd, // b    loop
  0xd2800100, // done: movz x0, #0x0008
  0xf2b08000, // movk x0, #0x8400, lsl #16    PSCI SYSTEM_OFF = 0x84000008
  0xd4000002, // hvc  #0
  0x14000000, // b    .
];

/** The line the image prints. */
export function kernelBanner(tag: string): string {
  return `CANOPY-KERNEL ${tag}`;
}

/** Builds the image for `tag` (printable ASCII, no spaces). */
export function arm64TestKernel(tag: string): Uint8Array {
  if (!/^[!-~]{1,64}$/.test(tag)) throw new Error(`bad kernel tag ${JSON.stringify(tag)}`);
  const message = new TextEncoder().encode(`${kernelBanner(tag)}\r\n\0`);
  const bodyLength = 0x40 + CODE.length * 4 + message.length;
  const size = (bodyLength + 0xfff) & ~0xfff;
  const image = new Uint8Array(size);
  const view = new DataView(image.buffer);
  view.setUint32(0x00, 0x14000010, true); // b 0x40 (past the header)
  view.setBigUint64(0x08, 0n, true); // text_offset
  view.setBigUint64(0x10, BigInt(size), true); // image_size
  view.setBigUint64(0x18, 0xan, true); // flags: little endian, 4K pages, placed anywhere
  view.setUint32(0x38, 0x644d5241, true); // "ARM\x64"
  CODE.forEach((insn, i) => view.setUint32(0x40 + i * 4, insn, true));
  image.set(message, 0x40 + CODE.length * 4);
  return image;
}
