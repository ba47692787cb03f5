#include "CAirlockShims_openssl.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>

unsigned long CAirlockShims_XN_FLAG_RFC2253_UTF8(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }

struct stack_st_X509 *CAirlockShims_sk_X509_new_null(void) { return sk_X509_new_null(); }

int CAirlockShims_sk_X509_push(struct stack_st_X509 *stack, struct x509_st *certificate) {
    return sk_X509_push(stack, certificate);
}

int CAirlockShims_sk_X509_num(const struct stack_st_X509 *stack) { return sk_X509_num(stack); }

struct x509_st *CAirlockShims_sk_X509_value(const struct stack_st_X509 *stack, int index) {
    return sk_X509_value(stack, index);
}

void CAirlockShims_sk_X509_free(struct stack_st_X509 *stack) { sk_X509_free(stack); }
