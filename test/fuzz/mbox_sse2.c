/*
 * mbox.c built without its AVX2 scanner, under other names, so that
 * fuzz_mbox can compare it with the build that picks AVX2 at run time.
 * Every external name of mbox.c must be renamed here; a new one shows up
 * as a duplicate symbol when fuzz_mbox is linked.
 */
#define MBOX_NO_AVX2 1
#define mbox_index mbox_index_sse2
#define mbox_free mbox_free_sse2
#define mbox_count mbox_count_sse2
#define mbox_get mbox_get_sse2
#define mbox_stored_end mbox_stored_end_sse2
#define mbox_send mbox_send_sse2
#define mbox_send_guarded mbox_send_guarded_sse2
#define mbox_is_separator mbox_is_separator_sse2
#define mbox_index_file mbox_index_file_sse2
#define mbox_send_file mbox_send_file_sse2
#include "mbox.c"
