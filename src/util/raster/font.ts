// A small proportional bitmap font, drawn for this project: printable ASCII (32..126) plus the en
// dash and the ellipsis. Every glyph is 13 rows high: row 0 is blank, capitals and ascenders fill
// rows 1..9, the x-height is rows 3..9, the baseline lies under row 9 and descenders reach row 12.
// Glyphs are 1 to 7 pixels wide and separated by one blank column when drawn.
//
// The glyphs are stored as strips of ASCII art: a string naming the characters, then 13 rows in
// which every glyph is closed by '|' and '#' marks an inked pixel.

/** Rows in every glyph. */
export const GLYPH_HEIGHT = 13;
/** Distance between the tops of two lines of text. */
export const LINE_HEIGHT = 15;
/** First and last row of capital letters and digits (the part of a line that looks centred). */
export const CAP_TOP = 1;
export const CAP_BOTTOM = 9;
/** Blank columns between two glyphs. */
export const LETTER_SPACING = 1;

export interface Glyph {
  width: number;
  /** One bitmask per row, bit x set where column x is inked. */
  rows: readonly number[];
}

const STRIPS: [chars: string, art: string][] = [
  [
    ' !"#$%&\'()*+,-./01',
    `
|   | |   |      |  #  |       |      | |   |   |     |     |  |    |  |     |     |     |
|   |#|# #| #  # | ####| ##    | ##   |#|  #|#  |  #  |     |  |    |  |    #| ### |  #  |
|   |#|# #| #  # |# #  |#  #  #|#  #  |#| # | # |# # #|     |  |    |  |    #|#   #| ##  |
|   |#|# #|######|# #  |#  # # |#  #  |#| # | # | ### |  #  |  |    |  |   # |#   #|# #  |
|   |#|   | #  # | ### | ## #  | ##   | |#  |  #|# # #|  #  |  |    |  |   # |#   #|  #  |
|   |#|   | #  # |  # #|   #   | ##  #| |#  |  #|  #  |#####|  |####|  |  #  |#   #|  #  |
|   |#|   |######|  # #|  # ## |#  # #| |#  |  #|     |  #  |  |    |  | #   |#   #|  #  |
|   |#|   | #  # |  # #| # #  #|#   # | |#  |  #|     |  #  |  |    |  | #   |#   #|  #  |
|   | |   | #  # |#### |#  #  #|#  # #| |#  |  #|     |     |##|    |##|#    |#   #|  #  |
|   |#|   |      |  #  |    ## | ##  #| | # | # |     |     |##|    |##|#    | ### |#####|
|   | |   |      |     |       |      | | # | # |     |     | #|    |  |     |     |     |
|   | |   |      |     |       |      | |  #|#  |     |     |# |    |  |     |     |     |
|   | |   |      |     |       |      | |   |   |     |     |  |    |  |     |     |     |
`,
  ],
  [
    '23456789:;<=>?@A',
    `
|     |     |     |     |     |     |     |     |  |  |    |     |    |     |       |     |
| ### | ### |   # |#####|  ## |#####| ### | ### |  |  |    |     |    | ### | ##### |  #  |
|#   #|#   #|  ## |#    | #   |    #|#   #|#   #|  |  |   #|     |#   |#   #|#     #| # # |
|    #|    #| # # |#    |#    |    #|#   #|#   #|##|##|  # |     | #  |    #|#  ####| # # |
|    #|    #| # # |#### |#    |   # |#   #|#   #|##|##| #  |#####|  # |    #|# #   #|#   #|
|   # |  ## |#  # |    #|#### |   # | ### | ####|  |  |#   |     |   #|   # |# #   #|#   #|
|  #  |    #|#####|    #|#   #|  #  |#   #|    #|  |  | #  |#####|  # |  #  |# #  ##|#####|
| #   |    #|   # |    #|#   #|  #  |#   #|    #|  |  |  # |     | #  |  #  |#  ## #|#   #|
|#    |#   #|   # |#   #|#   #|  #  |#   #|   # |##|##|   #|     |#   |     |#      |#   #|
|#####| ### |   # | ### | ### |  #  | ### | ##  |##|##|    |     |    |  #  | ##### |#   #|
|     |     |     |     |     |     |     |     |  | #|    |     |    |     |       |     |
|     |     |     |     |     |     |     |     |  |# |    |     |    |     |       |     |
|     |     |     |     |     |     |     |     |  |  |    |     |    |     |       |     |
`,
  ],
  [
    'BCDEFGHIJKLMNOP',
    `
|     |     |     |     |     |     |     |   |     |     |     |       |     |      |     |
|#### | ### |###  |#####|#####| ### |#   #|###|  ###|#   #|#    |#     #|#   #| #### |#### |
|#   #|#   #|#  # |#    |#    |#   #|#   #| # |   # |#   #|#    |##   ##|##  #|#    #|#   #|
|#   #|#    |#   #|#    |#    |#    |#   #| # |   # |#  # |#    |# # # #|##  #|#    #|#   #|
|#   #|#    |#   #|#    |#    |#    |#   #| # |   # |# #  |#    |#  #  #|# # #|#    #|#   #|
|#### |#    |#   #|#### |#### |# ###|#####| # |   # |##   |#    |#     #|# # #|#    #|#### |
|#   #|#    |#   #|#    |#    |#   #|#   #| # |   # |# #  |#    |#     #|#  ##|#    #|#    |
|#   #|#    |#   #|#    |#    |#   #|#   #| # |   # |#  # |#    |#     #|#  ##|#    #|#    |
|#   #|#   #|#  # |#    |#    |#   #|#   #| # |#  # |#   #|#    |#     #|#   #|#    #|#    |
|#### | ### |###  |#####|#    | ### |#   #|###| ##  |#   #|#####|#     #|#   #| #### |#    |
|     |     |     |     |     |     |     |   |     |     |     |       |     |      |     |
|     |     |     |     |     |     |     |   |     |     |     |       |     |      |     |
|     |     |     |     |     |     |     |   |     |     |     |       |     |      |     |
`,
  ],
  [
    'QRSTUVWXYZ[\\]^_',
    `
|      |     |     |     |     |     |       |     |     |     |   |     |   |     |     |
| #### |#### | ### |#####|#   #|#   #|#     #|#   #|#   #|#####|###|#    |###|  #  |     |
|#    #|#   #|#   #|  #  |#   #|#   #|#     #|#   #|#   #|    #|#  |#    |  #| # # |     |
|#    #|#   #|#    |  #  |#   #|#   #|#     #| # # | # # |   # |#  | #   |  #|#   #|     |
|#    #|#   #|#    |  #  |#   #|#   #|#     #| # # | # # |   # |#  | #   |  #|     |     |
|#    #|#### | ### |  #  |#   #|#   #|#     #|  #  |  #  |  #  |#  |  #  |  #|     |     |
|#    #|# #  |    #|  #  |#   #| # # |#  #  #| # # |  #  | #   |#  |   # |  #|     |     |
|#  # #|#  # |    #|  #  |#   #| # # |# # # #| # # |  #  | #   |#  |   # |  #|     |     |
|#   # |#   #|#   #|  #  |#   #| # # |##   ##|#   #|  #  |#    |#  |    #|  #|     |     |
| ### #|#   #| ### |  #  | ### |  #  |#     #|#   #|  #  |#####|#  |    #|  #|     |     |
|      |     |     |     |     |     |       |     |     |     |#  |     |  #|     |     |
|      |     |     |     |     |     |       |     |     |     |###|     |###|     |#####|
|      |     |     |     |     |     |       |     |     |     |   |     |   |     |     |
`,
  ],
  [
    '`abcdefghijklmno',
    `
|  |     |     |     |     |     |    |     |     |   |   |     |  |       |     |     |
|# |     |#    |     |    #|     |  ##|     |#    | # |  #|#    |# |       |     |     |
| #|     |#    |     |    #|     | #  |     |#    |   |   |#    |# |       |     |     |
|  | ### |#### | ### | ####| ### |####| ####|#### |## | ##|#   #|# |### ## |#### | ### |
|  |    #|#   #|#   #|#   #|#   #| #  |#   #|#   #| # |  #|#  # |# |#  #  #|#   #|#   #|
|  |    #|#   #|#    |#   #|#   #| #  |#   #|#   #| # |  #|# #  |# |#  #  #|#   #|#   #|
|  | ####|#   #|#    |#   #|#####| #  |#   #|#   #| # |  #|##   |# |#  #  #|#   #|#   #|
|  |#   #|#   #|#    |#   #|#    | #  |#   #|#   #| # |  #|# #  |# |#  #  #|#   #|#   #|
|  |#   #|#   #|#   #|#   #|#   #| #  |#   #|#   #| # |  #|#  # |# |#  #  #|#   #|#   #|
|  | ####|#### | ### | ####| ### | #  | ####|#   #|###|  #|#   #| #|#  #  #|#   #| ### |
|  |     |     |     |     |     |    |    #|     |   |  #|     |  |       |     |     |
|  |     |     |     |     |     |    |    #|     |   |  #|     |  |       |     |     |
|  |     |     |     |     |     |    | ### |     |   |## |     |  |       |     |     |
`,
  ],
  [
    'pqrstuvwxyz{|}~–',
    `
|     |     |    |     |    |     |     |       |     |     |     |    | |    |      |     |
|     |     |    |     | #  |     |     |       |     |     |     |  ##|#|##  |      |     |
|     |     |    |     | #  |     |     |       |     |     |     | #  |#|  # |      |     |
|#### | ####|# ##| ####|####|#   #|#   #|#     #|#   #|#   #|#####| #  |#|  # |      |     |
|#   #|#   #|##  |#    | #  |#   #|#   #|#     #| # # |#   #|    #| #  |#|  # | ##  #|     |
|#   #|#   #|#   |#    | #  |#   #| # # |#  #  #| # # |#   #|   # | #  |#|  # |#  ## |#####|
|#   #|#   #|#   | ### | #  |#   #| # # |#  #  #|  #  |#   #|  #  |#   |#|   #|      |     |
|#   #|#   #|#   |    #| #  |#   #| # # |# # # #| # # |#   #| #   | #  |#|  # |      |     |
|#   #|#   #|#   |    #| #  |#   #|  #  |##   ##| # # |#   #|#    | #  |#|  # |      |     |
|#### | ####|#   |#### |  ##| ####|  #  |#     #|#   #| ####|#####| #  |#|  # |      |     |
|#    |    #|    |     |    |     |     |       |     |    #|     | #  |#|  # |      |     |
|#    |    #|    |     |    |     |     |       |     |    #|     |  ##|#|##  |      |     |
|#    |    #|    |     |    |     |     |       |     | ### |     |    | |    |      |     |
`,
  ],
  [
    '…',
    `
|       |
|       |
|       |
|       |
|       |
|       |
|       |
|       |
|       |
|#  #  #|
|       |
|       |
|       |
`,
  ],
];

function parseStrips(): Map<string, Glyph> {
  const glyphs = new Map<string, Glyph>();
  for (const [chars, art] of STRIPS) {
    const lines = art.split('\n').filter((line) => line.startsWith('|'));
    if (lines.length !== GLYPH_HEIGHT) throw new Error(`font strip '${chars}' has ${lines.length} rows`);
    const cells = lines.map((line) => line.slice(1, -1).split('|'));
    [...chars].forEach((ch, i) => {
      const width = cells[0][i].length;
      const rows = cells.map((row) => {
        if (row[i].length !== width) throw new Error(`font glyph '${ch}' has rows of different widths`);
        let mask = 0;
        for (let x = 0; x < width; x++) if (row[i][x] === '#') mask |= 1 << x;
        return mask;
      });
      glyphs.set(ch, { width, rows });
    });
  }
  return glyphs;
}

/** Every glyph of the font, by character. */
export const FONT: ReadonlyMap<string, Glyph> = parseStrips();

/** The glyph drawn for a character; characters the font lacks are drawn as '?'. */
export function glyphFor(ch: string): Glyph {
  return FONT.get(ch) ?? FONT.get('?')!;
}
