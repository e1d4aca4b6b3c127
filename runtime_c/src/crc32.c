/*
 * crc32.c - CRC-32 as in IEEE 802.3 and zlib's crc32(): reflected polynomial 0xEDB88320, initial
 * value and final xor 0xFFFFFFFF. Four bits at a time from a 16-entry table: a constant table keeps
 * the function pure (no lazy initialization, so concurrent loads are safe) and small, at about a
 * third of the speed of a 256-entry table, which is still far faster than reading the file.
 */
#include "model_internal.h"

static const uint32_t te_crc32_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t te_crc32(const uint8_t *data, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t i;
    for (i = 0; i < n; i++) {
        crc ^= data[i];
        crc = (crc >> 4) ^ te_crc32_nibble[crc & 15u];
        crc = (crc >> 4) ^ te_crc32_nibble[crc & 15u];
    }
    return crc ^ 0xFFFFFFFFu;
}
