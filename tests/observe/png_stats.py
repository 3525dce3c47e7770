#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Colour statistics of a PNG, for tests that check a rendered picture, not only its XML.

usage: png_stats.py FILE [X0 Y0 X1 Y1]...

Prints "size W H", then one line for the whole picture ("box all") and one per box given
(pixel rectangles, inclusive-exclusive, clipped to the picture):
    box NAME total=N nonwhite=N red=N green=N blue=N dark=N grey=N
Classes (after compositing transparency over white): red, green and blue are strongly
saturated pixels of that hue; dark is near black; grey is unsaturated mid grey.
Standard library only (zlib, struct): 8-bit greyscale, RGB, palette, grey+alpha and RGBA,
non-interlaced.
"""
import collections
import itertools
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG: " + path)
    pos = 8
    idat = b""
    palette = None
    width = height = None
    depth = ctype = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if depth != 8 or interlace != 0:
        raise SystemExit("unsupported PNG: bit depth %s, interlace %s" % (depth, interlace))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows = []
    previous = bytes(stride)
    i = 0
    for _ in range(height):
        kind = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        if kind == 1:  # Sub: a running sum per channel
            for c in range(channels):
                line[c::channels] = bytes(
                    itertools.accumulate(line[c::channels], lambda a, b: (a + b) & 0xFF))
        elif kind == 2:  # Up
            line = bytearray((x + y) & 0xFF for x, y in zip(line, previous))
        elif kind in (3, 4):  # Average, Paeth: sequential
            for x in range(stride):
                a = line[x - channels] if x >= channels else 0
                b = previous[x]
                if kind == 3:
                    line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
                    continue
                c = previous[x - channels] if x >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line

    def colours(y, x0, x1):
        """The pixels of row y from x0 to x1 as (r, g, b) over white."""
        row = rows[y][x0 * channels:x1 * channels]
        if ctype == 2:
            return zip(row[0::3], row[1::3], row[2::3])
        if ctype == 6:
            return (blend(r, g, b, a) for r, g, b, a in zip(row[0::4], row[1::4], row[2::4],
                                                             row[3::4]))
        if ctype == 0:
            return ((v, v, v) for v in row)
        if ctype == 3:
            return (palette[v] for v in row)
        return (blend(v, v, v, a) for v, a in zip(row[0::2], row[1::2]))

    return width, height, colours


def blend(r, g, b, alpha):
    if alpha == 255:
        return r, g, b
    f = lambda v: (v * alpha + 255 * (255 - alpha)) // 255
    return f(r), f(g), f(b)


def classify(r, g, b):
    out = []
    if min(r, g, b) < 235:
        out.append("nonwhite")
    if r > 170 and g < 100 and b < 100:
        out.append("red")
    if g > 100 and r < 90 and b < 110 and g - max(r, b) > 40:
        out.append("green")
    if b > 140 and r < 100 and b - max(r, g) > 40:
        out.append("blue")
    if max(r, g, b) < 80:
        out.append("dark")
    if 110 < r < 200 and abs(r - g) < 12 and abs(r - b) < 12 and abs(g - b) < 12:
        out.append("grey")
    return out


def stats(width, height, colours, box):
    x0, y0, x1, y1 = box
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    seen = collections.Counter()
    for y in range(y0, y1):
        if x1 > x0:
            seen.update(colours(y, x0, x1))
    counts = dict(total=0, nonwhite=0, red=0, green=0, blue=0, dark=0, grey=0)
    for colour, n in seen.items():
        counts["total"] += n
        for name in classify(*colour):
            counts[name] += n
    return counts


def main(argv):
    if len(argv) < 2 or (len(argv) - 2) % 4:
        raise SystemExit(__doc__)
    width, height, colours = read_png(argv[1])
    print("size %d %d" % (width, height))
    boxes = [("all", (0, 0, width, height))]
    numbers = [int(float(v)) for v in argv[2:]]
    for k in range(0, len(numbers), 4):
        boxes.append((str(k // 4), tuple(numbers[k:k + 4])))
    for name, box in boxes:
        c = stats(width, height, colours, box)
        print("box %s " % name + " ".join("%s=%d" % (k, c[k]) for k in
                                         ("total", "nonwhite", "red", "green", "blue", "dark",
                                          "grey")))


if __name__ == "__main__":
    main(sys.argv)
