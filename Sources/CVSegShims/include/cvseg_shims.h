// C shims around libpng and libjpeg.
//
// Both libraries report fatal errors by longjmp-ing out of the failing call, and libjpeg's
// default handler even calls exit(). Swift can neither call setjmp (it is a "returns_twice"
// function, unavailable to Swift) nor survive a longjmp across its frames, so every call into
// those libraries that can fail is made from this file, behind a setjmp. Errors come back as a
// status code plus a message in the context struct. No libpng or libjpeg type appears here, so
// the Swift side never sees them.
#ifndef CVSEG_SHIMS_H
#define CVSEG_SHIMS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CVSEG_OK = 0,
    CVSEG_ERR_DECODE = 1,      // the library rejected the data (message says why)
    CVSEG_ERR_TOO_LARGE = 2,   // header dimensions exceed the caller's limits
    CVSEG_ERR_CORRUPT = 3,     // decoded only with a corrupt-data warning, and strict mode is on
    CVSEG_ERR_UNSUPPORTED = 4, // valid file, but a kind cvseg refuses (CMYK JPEG)
    CVSEG_ERR_NOMEM = 5,
    CVSEG_ERR_ARGUMENT = 6,    // the caller passed an invalid request (bug on the Swift side)
};

#define CVSEG_MESSAGE_SIZE 320

/// Options shared by the decoders.
typedef struct {
    int lenient;                 // 1: corrupt-data warnings do not fail the decode
    int palette_as_indices;      // PNG only. 1: palette images give their index plane
    uint32_t max_width;
    uint32_t max_height;
    uint64_t max_pixels;         // width * height limit, checked before any pixel buffer exists
} cvseg_decode_options;

/// What a decoder reports after reading the header, and again after the pixels.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;                // samples per pixel in the output buffer (1..4)
    int bit_depth;               // 8 or 16: bits per output sample (16-bit samples are native-endian)
    size_t row_bytes;            // bytes per output row
    int source_bit_depth;        // as stored in the file
    int source_color;            // PNG colour type (0 gray, 2 rgb, 3 palette, 4 gray+alpha, 6 rgba);
                                 // JPEG: 1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK
    int interlaced;              // PNG Adam7 / progressive JPEG
    int palette_count;           // PNG palette entries (0 when none)
    uint8_t palette[256 * 4];    // RGBA; alpha 255 where tRNS gives none
    int warnings;                // warnings seen (in lenient mode, the data may be damaged)
    char message[CVSEG_MESSAGE_SIZE]; // error text, or the first warning
} cvseg_image_info;

// MARK: PNG

typedef struct cvseg_png_reader cvseg_png_reader;

/// Reads the header of the PNG in `data` and prepares the output transforms.
/// On success `*out` holds a reader to pass to `cvseg_png_read_pixels` and then `cvseg_png_free`.
/// On failure `*out` is NULL and `info->message` says why.
int cvseg_png_open(const uint8_t *data, size_t size, const cvseg_decode_options *options,
                   cvseg_png_reader **out, cvseg_image_info *info);
/// Decodes all rows into `pixels` (at least `info->row_bytes * info->height` bytes).
int cvseg_png_read_pixels(cvseg_png_reader *reader, uint8_t *pixels, cvseg_image_info *info);
void cvseg_png_free(cvseg_png_reader *reader);

typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;                // 1 gray, 2 gray+alpha, 3 rgb, 4 rgba; 1 with a palette = indices
    int bit_depth;               // 8 or 16 (16: native-endian uint16 samples); palette: 8
    const uint8_t *pixels;
    size_t row_bytes;
    const uint8_t *palette;      // RGBA entries, or NULL for a non-indexed image
    int palette_count;           // 1...256
    int compression_level;       // zlib level 0...9
    int filter;                  // 0 none, 1 sub, 2 adaptive (libpng's per-row choice)
    int run_length;              // 1: zlib's Z_RLE strategy (fast; good on masks and filtered rows)
    /// Instead of `pixels`: called once per row, in order, to fill `row` (`row_bytes` bytes), so
    /// that no image-sized buffer of the encoded samples need exist. NULL: rows come from `pixels`.
    void (*row_fn)(void *context, uint32_t y, uint8_t *row);
    void *row_context;
} cvseg_png_write_params;

/// Encodes a PNG into a malloc'ed buffer returned in `*out` / `*out_size`; free it with `cvseg_free`.
int cvseg_png_encode(const cvseg_png_write_params *params, uint8_t **out, size_t *out_size,
                     char message[CVSEG_MESSAGE_SIZE]);

// MARK: JPEG

typedef struct cvseg_jpeg_reader cvseg_jpeg_reader;

int cvseg_jpeg_open(const uint8_t *data, size_t size, const cvseg_decode_options *options,
                    cvseg_jpeg_reader **out, cvseg_image_info *info);
int cvseg_jpeg_read_pixels(cvseg_jpeg_reader *reader, uint8_t *pixels, cvseg_image_info *info);
void cvseg_jpeg_free(cvseg_jpeg_reader *reader);

typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;                // 1 gray or 3 rgb, 8-bit
    const uint8_t *pixels;
    size_t row_bytes;
    int quality;                 // 1...100
    int progressive;
} cvseg_jpeg_write_params;

int cvseg_jpeg_encode(const cvseg_jpeg_write_params *params, uint8_t **out, size_t *out_size,
                      char message[CVSEG_MESSAGE_SIZE]);

void cvseg_free(void *pointer);

/// Keeps large freed buffers in the heap for reuse instead of returning them to the kernel
/// (glibc mallopt; <malloc.h> is not part of Swift's Glibc module). No-op elsewhere.
void cvseg_keep_buffers_in_heap(void);

/// open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644): an unnamed file in `dir` that disappears if
/// the process dies before it is linked. Returns -1 (errno set) where unsupported. The O_TMPFILE
/// macro is not visible to Swift, hence this shim.
int cvseg_open_tmpfile(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
