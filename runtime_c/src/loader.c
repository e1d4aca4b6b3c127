/*
 * loader.c - the two load entry points, the header and section table checks (docs/format.md,
 * "What the loader checks", steps 1-3) and the order of the remaining steps.
 *
 * Every read of the file is preceded by a range check written so that it cannot overflow
 * (`n > (size - off) / elem`, never `off + n * elem > size`). A failure is a status and a message
 * naming the section, the record and the rule; nothing here aborts or reads out of bounds,
 * whatever the bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define TE_MAGIC "TEDG"
#define TE_VERSION_MAJOR 1u
#define TE_ENDIAN_TAG 0x01020304u

static const char *const te_section_names[TE_SEC_KNOWN_MAX + 1] = {
    "?", "STRINGS", "TENSORS", "OPS", "IO", "PARAMS", "GRAPH", "PLAN", "METADATA", "WEIGHTS", "QUANT",
};

static const char *te_section_name(uint32_t kind)
{
    return kind >= 1 && kind <= TE_SEC_KNOWN_MAX ? te_section_names[kind] : "unknown";
}

static int te_host_is_little_endian(void)
{
    const uint32_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Step 1: length, magic, version, endianness, header size, flags, file_size. */
static te_status te_check_header(te_model *m)
{
    const uint8_t *h = m->bytes;
    uint16_t major, minor;
    uint32_t tag;
    uint64_t file_size;
    if (m->size < TE_HEADER_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "header: the file has %lu bytes, fewer than the 64-byte header",
                             (unsigned long)m->size);
    if (memcmp(h + TE_HDR_MAGIC, TE_MAGIC, 4) != 0)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "header: magic bytes %02x %02x %02x %02x are not 'TEDG': not a .tem file",
                             h[0], h[1], h[2], h[3]);
    major = te_rd_u16(h + TE_HDR_VERSION_MAJOR);
    minor = te_rd_u16(h + TE_HDR_VERSION_MINOR);
    if (major != TE_VERSION_MAJOR)
        return te_model_fail(m, TE_ERR_VERSION,
                             "header: format version %u.%u; this runtime reads version 1.x",
                             (unsigned)major, (unsigned)minor);
    tag = te_rd_u32(h + TE_HDR_ENDIAN_TAG);
    if (tag != TE_ENDIAN_TAG)
        return te_model_fail(m, TE_ERR_VERSION,
                             "header: endian tag 0x%08lx, expected 0x01020304 (a little-endian file)%s",
                             (unsigned long)tag, tag == 0x04030201u ? ": the file is big-endian" : "");
    if (!te_host_is_little_endian())
        return te_model_fail(m, TE_ERR_VERSION,
                             "header: this CPU is big-endian; .tem weights are little-endian and are "
                             "used in place");
    if (te_rd_u32(h + TE_HDR_HEADER_SIZE) != TE_HEADER_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT, "header: header_size is %lu, must be 64",
                             (unsigned long)te_rd_u32(h + TE_HDR_HEADER_SIZE));
    if (te_rd_u32(h + TE_HDR_FLAGS) != 0)
        return te_model_fail(m, TE_ERR_FORMAT, "header: flags are 0x%08lx, must be 0",
                             (unsigned long)te_rd_u32(h + TE_HDR_FLAGS));
    file_size = te_rd_u64(h + TE_HDR_FILE_SIZE);
    if (file_size != (uint64_t)m->size)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "header: file_size says %llu bytes but %llu were read (a truncated or "
                             "padded file)",
                             (unsigned long long)file_size, (unsigned long long)m->size);
    return TE_OK;
}

/* Step 2: the section table and every section's range, alignment, uniqueness and overlap. */
static te_status te_check_sections(te_model *m)
{
    const uint8_t *h = m->bytes;
    uint64_t size = m->size;
    uint32_t count = te_rd_u32(h + TE_HDR_SECTION_COUNT);
    uint64_t table = te_rd_u32(h + TE_HDR_SECTION_TABLE);
    uint64_t table_end;
    uint32_t i, j;
    if (count < 1 || count > TE_MAX_SECTIONS)
        return te_model_fail(m, TE_ERR_FORMAT, "header: section_count is %lu, must be 1..64",
                             (unsigned long)count);
    if (table < TE_HEADER_SIZE)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "header: section table at offset %llu overlaps the 64-byte header",
                             (unsigned long long)table);
    table_end = table + (uint64_t)count * TE_SECTION_ENTRY_SIZE;
    if (table > size || (uint64_t)count * TE_SECTION_ENTRY_SIZE > size - table)
        return te_model_fail(m, TE_ERR_FORMAT,
                             "header: section table of %lu entries at offset %llu runs past the end "
                             "of the %llu-byte file",
                             (unsigned long)count, (unsigned long long)table, (unsigned long long)size);
    for (i = 0; i < count; i++) {
        const uint8_t *e = h + table + (uint64_t)i * TE_SECTION_ENTRY_SIZE;
        uint32_t kind = te_rd_u32(e + TE_SEC_KIND);
        uint64_t off = te_rd_u64(e + TE_SEC_OFFSET), len = te_rd_u64(e + TE_SEC_SIZE);
        uint64_t align = kind == TE_SEC_WEIGHTS ? TE_ALIGN : 8;
        const char *name = te_section_name(kind);
        if (off < table_end || off > size || len > size - off)
            return te_model_fail(m, TE_ERR_FORMAT,
                                 "section table[%lu] (%s, kind %lu): range [%llu, +%llu) is not "
                                 "inside the file past the section table [%llu, %llu)",
                                 (unsigned long)i, name, (unsigned long)kind, (unsigned long long)off,
                                 (unsigned long long)len, (unsigned long long)table_end,
                                 (unsigned long long)size);
        if (off % align != 0)
            return te_model_fail(m, TE_ERR_FORMAT,
                                 "section table[%lu] (%s): offset %llu is not %llu-byte aligned",
                                 (unsigned long)i, name, (unsigned long long)off,
                                 (unsigned long long)align);
        for (j = 0; j < i; j++) {
            const uint8_t *f = h + table + (uint64_t)j * TE_SECTION_ENTRY_SIZE;
            uint64_t off2 = te_rd_u64(f + TE_SEC_OFFSET), len2 = te_rd_u64(f + TE_SEC_SIZE);
            if (te_rd_u32(f + TE_SEC_KIND) == kind)
                return te_model_fail(m, TE_ERR_FORMAT,
                                     "section table[%lu]: kind %lu (%s) appears twice (entries %lu "
                                     "and %lu); each kind appears at most once",
                                     (unsigned long)i, (unsigned long)kind, name, (unsigned long)j,
                                     (unsigned long)i);
            /* Empty sections overlap nothing. */
            if (len > 0 && len2 > 0 && off < off2 + len2 && off2 < off + len)
                return te_model_fail(m, TE_ERR_FORMAT,
                                     "section table[%lu] (%s) [%llu, %llu) overlaps entry %lu (%s) "
                                     "[%llu, %llu)",
                                     (unsigned long)i, name, (unsigned long long)off,
                                     (unsigned long long)(off + len), (unsigned long)j,
                                     te_section_name(te_rd_u32(f + TE_SEC_KIND)),
                                     (unsigned long long)off2, (unsigned long long)(off2 + len2));
        }
        if (kind >= 1 && kind <= TE_SEC_KNOWN_MAX) {
            m->sections[kind].data = h + off;
            m->sections[kind].off = off;
            m->sections[kind].size = len;
        }
        /* Unknown kinds (added by a later minor version) are skipped once they are in bounds. */
    }
    for (i = TE_SEC_STRINGS; i <= TE_SEC_WEIGHTS; i++)
        if (m->sections[i].data == NULL)
            return te_model_fail(m, TE_ERR_FORMAT, "section table: required section %s (kind %lu) is "
                                 "missing", te_section_names[i], (unsigned long)i);
    return TE_OK;
}

/* Step 3: the checksum of everything after the header. */
static te_status te_check_checksum(te_model *m)
{
    uint32_t want = te_rd_u32(m->bytes + TE_HDR_CHECKSUM);
    uint32_t got = te_crc32(m->bytes + TE_HEADER_SIZE, m->size - TE_HEADER_SIZE);
    if (got != want)
        return te_model_fail(m, TE_ERR_CHECKSUM,
                             "header: checksum 0x%08lx does not match the CRC-32 0x%08lx of bytes "
                             "[64, %lu): the file is damaged",
                             (unsigned long)want, (unsigned long)got, (unsigned long)m->size);
    return TE_OK;
}

te_status te_load_header(te_model *m)
{
    te_status st = te_check_header(m);
    if (st == TE_OK)
        st = te_check_sections(m);
    if (st == TE_OK)
        st = te_check_checksum(m);
    return st;
}

static void te_write_error(char *err, size_t err_size, const char *msg)
{
    size_t n;
    if (err == NULL || err_size == 0)
        return;
    n = strlen(msg);
    if (n >= err_size)
        n = err_size - 1;
    memcpy(err, msg, n);
    err[n] = '\0';
}

/* Build a model over bytes (owned when raw is not NULL: freed with the model, or here on failure). */
static te_status te_load(const uint8_t *bytes, size_t size, void *raw, const te_options *options,
                         te_model **out, char *err, size_t err_size)
{
    static const te_options defaults;
    te_model *m = (te_model *)calloc(1, sizeof *m);
    te_status st;
    if (m == NULL) {
        free(raw);
        te_write_error(err, err_size, "out of memory allocating the model");
        return TE_ERR_NOMEM;
    }
    m->bytes = bytes;
    m->size = size;
    m->bytes_raw = raw;
    if (options == NULL)
        options = &defaults;
    if (options->threads < 0 || options->threads > TE_MAX_THREADS)
        st = te_model_fail(m, TE_ERR_ARG, "options: threads = %d; allowed: 0 or 1 (the calling "
                           "thread only) up to %d", options->threads, TE_MAX_THREADS);
    else if (options->arena != NULL && (uintptr_t)options->arena % TE_ALIGN != 0)
        st = te_model_fail(m, TE_ERR_ARG, "options: arena at %p is not 64-byte aligned",
                           options->arena);
    else
        st = te_load_header(m);
    if (st == TE_OK)
        st = te_load_tables(m);
    if (st == TE_OK)
        st = te_load_prepare(m, options);
    if (st != TE_OK) {
        te_write_error(err, err_size, m->error);
        te_model_free(m);
        return st;
    }
    m->error[0] = '\0';
    *out = m;
    return TE_OK;
}

te_status te_model_load_buffer(const void *data, size_t size, const te_options *options,
                               te_model **out, char *err, size_t err_size)
{
    char msg[96];
    te_write_error(err, err_size, "");
    if (out == NULL) {
        te_write_error(err, err_size, "te_model_load_buffer: out is NULL");
        return TE_ERR_ARG;
    }
    *out = NULL;
    if (data == NULL) {
        te_write_error(err, err_size, "te_model_load_buffer: data is NULL");
        return TE_ERR_ARG;
    }
    if ((uintptr_t)data % TE_ALIGN != 0) {
        snprintf(msg, sizeof msg, "te_model_load_buffer: data at %p is not 64-byte aligned", data);
        te_write_error(err, err_size, msg);
        return TE_ERR_ARG;
    }
    return te_load((const uint8_t *)data, size, NULL, options, out, err, err_size);
}

/* Format an I/O failure "path: what: strerror" into err. */
static te_status te_io_fail(char *err, size_t err_size, const char *path, const char *what, int errnum)
{
    char msg[TE_ERROR_LEN];
    snprintf(msg, sizeof msg, "%s: %s: %s", path, what, errnum ? strerror(errnum) : "unexpected end");
    te_write_error(err, err_size, msg);
    return TE_ERR_IO;
}

te_status te_model_load_file(const char *path, const te_options *options, te_model **out,
                             char *err, size_t err_size)
{
    FILE *f;
    long end;
    size_t size, got;
    uint8_t *raw, *bytes;
    uint8_t probe;
    te_write_error(err, err_size, "");
    if (out == NULL || path == NULL) {
        te_write_error(err, err_size, "te_model_load_file: path or out is NULL");
        return TE_ERR_ARG;
    }
    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL)
        return te_io_fail(err, err_size, path, "cannot open", errno);
    /* Read one byte before trusting the size: a directory opens but does not read. */
    errno = 0;
    if (fread(&probe, 1, 1, f) != 1 && ferror(f)) {
        int e = errno;
        fclose(f);
        return te_io_fail(err, err_size, path, "cannot read", e);
    }
    if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(f);
        return te_io_fail(err, err_size, path, "cannot find its size", e);
    }
    if ((unsigned long)end > (unsigned long)(SIZE_MAX - TE_ALIGN)) {
        fclose(f);
        te_write_error(err, err_size, "te_model_load_file: file too large for this address space");
        return TE_ERR_NOMEM;
    }
    size = (size_t)end;
    raw = (uint8_t *)malloc(size + TE_ALIGN);
    if (raw == NULL) {
        fclose(f);
        te_write_error(err, err_size, "te_model_load_file: out of memory for the file's bytes");
        return TE_ERR_NOMEM;
    }
    bytes = (uint8_t *)te_align_up(raw); /* by hand: C99 has no aligned allocation */
    errno = 0;
    got = fread(bytes, 1, size, f);
    if (got != size || fgetc(f) != EOF) {
        int e = ferror(f) ? errno : 0;
        fclose(f);
        free(raw);
        return te_io_fail(err, err_size, path, got != size ? "short read" : "the file grew while "
                          "being read", e);
    }
    fclose(f);
    return te_load(bytes, size, raw, options, out, err, err_size);
}
