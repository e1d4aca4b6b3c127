/*
 * attrs.c - parsing of an op's PARAMS blob (docs/format.md, "OPS, IO and PARAMS").
 *
 * The blob holds every attribute of the op, in the order of its schema: int as i32, float as
 * float32, ints / floats as u32 n then n values. It must be consumed exactly. Lists are capped at
 * TE_MAX_ATTR_LEN entries (the te_attr arrays); a longer list is a format error, not a truncation.
 */
#include <stdio.h>
#include <string.h>

#include "model_internal.h"

static const char *te_attr_kind_name(int kind)
{
    switch (kind) {
    case TE_ATTR_INT: return "int";
    case TE_ATTR_FLOAT: return "float";
    case TE_ATTR_INTS: return "ints";
    case TE_ATTR_FLOATS: return "floats";
    default: return "?";
    }
}

te_status te_attrs_parse(const te_op_schema *schema, const uint8_t *blob, uint64_t size,
                         te_attr *attrs, char *why, size_t why_size)
{
    uint64_t pos = 0;
    int a;
    memset(attrs, 0, sizeof(te_attr) * TE_MAX_ATTRS);
    for (a = 0; a < schema->n_attrs; a++) {
        int kind = schema->kinds[a];
        te_attr *attr = &attrs[a];
        uint32_t n, j;
        if (size - pos < 4) {
            snprintf(why, why_size, "blob of %llu bytes ends before attribute %d (%s)",
                     (unsigned long long)size, a, te_attr_kind_name(kind));
            return TE_ERR_FORMAT;
        }
        if (kind == TE_ATTR_INT) {
            attr->i = te_rd_i32(blob + pos);
            pos += 4;
            continue;
        }
        if (kind == TE_ATTR_FLOAT) {
            attr->f = te_rd_f32(blob + pos);
            pos += 4;
            continue;
        }
        n = te_rd_u32(blob + pos);
        pos += 4;
        if (n > TE_MAX_ATTR_LEN) {
            snprintf(why, why_size, "attribute %d (%s) has %lu values, at most %d are supported", a,
                     te_attr_kind_name(kind), (unsigned long)n, TE_MAX_ATTR_LEN);
            return TE_ERR_FORMAT;
        }
        if ((uint64_t)n * 4 > size - pos) {
            snprintf(why, why_size, "attribute %d (%s) of %lu values runs past the blob of %llu bytes",
                     a, te_attr_kind_name(kind), (unsigned long)n, (unsigned long long)size);
            return TE_ERR_FORMAT;
        }
        attr->n = n;
        for (j = 0; j < n; j++, pos += 4) {
            if (kind == TE_ATTR_INTS)
                attr->ints[j] = te_rd_i32(blob + pos);
            else
                attr->floats[j] = te_rd_f32(blob + pos);
        }
    }
    if (pos != size) {
        snprintf(why, why_size, "blob of %llu bytes has %llu bytes left after the %d attributes",
                 (unsigned long long)size, (unsigned long long)(size - pos), schema->n_attrs);
        return TE_ERR_FORMAT;
    }
    return TE_OK;
}
