/*
 * mbox.c built without any vector code, under other names, so that
 * fuzz_mbox can compare it with the vector builds. Every external name of
 * mbox.c must be renamed here; a new one shows up as a duplicate symbol
 * when fuzz_mbox is linked.
 */
#define MBOX_NO_SIMD 1
#define mbox_index mbox_index_scalar
#define mbox_free mbox_free_scalar
#define mbox_count mbox_count_scalar
#define mbox_get mbox_get_scalar
#define mbox_stored_end mbox_stored_end_scalar
#define mbox_send mbox_send_scalar
#define mbox_send_guarded mbox_send_guarded_scalar
#define mbox_is_separator mbox_is_separator_scalar
#define mbox_index_file mbox_index_file_scalar
#define mbox_send_file mbox_send_file_scalar
#include "mbox.c"
