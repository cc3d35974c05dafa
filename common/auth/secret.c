/* secret.c -- constant-time key comparison over SHA-256 digests. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "auth/secret.h"
#include "core/banned.h"

int
hd_secret_equal(const char *want, const char *got, size_t gotlen)
{
    unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
    unsigned int na = 0, nb = 0;
    int same;

    if (want == NULL || *want == '\0' || got == NULL)
        return 0;
    if (EVP_Digest(want, strlen(want), a, &na, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(got, gotlen, b, &nb, EVP_sha256(), NULL) != 1 || na != 32 ||
        nb != 32)
        return 0;
    same = CRYPTO_memcmp(a, b, 32) == 0;
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return same;
}
