// OpenSSL macros Swift cannot import, as functions. Only forward declarations here, so this
// header does not pull OpenSSL's headers into the shim module a second time.
#pragma once

struct x509_st;
struct stack_st_X509;

/// `XN_FLAG_RFC2253` without `ASN1_STRFLGS_ESC_MSB`: names as RFC 2253 text, UTF-8 kept.
unsigned long CAirlockShims_XN_FLAG_RFC2253_UTF8(void);

/// `sk_X509_new_null`, `sk_X509_push`, `sk_X509_num`, `sk_X509_value`, `sk_X509_free`. The
/// stack does not own its certificates: `push` takes no reference and `free` frees none.
struct stack_st_X509 *CAirlockShims_sk_X509_new_null(void);
int CAirlockShims_sk_X509_push(struct stack_st_X509 *stack, struct x509_st *certificate);
int CAirlockShims_sk_X509_num(const struct stack_st_X509 *stack);
struct x509_st *CAirlockShims_sk_X509_value(const struct stack_st_X509 *stack, int index);
void CAirlockShims_sk_X509_free(struct stack_st_X509 *stack);
