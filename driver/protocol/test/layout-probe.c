/* Prints the compiler's sizeof / offsetof of every protocol struct as JSON, and (at compile
 * time) checks them against the offsets the generator wrote into the X-macro. */
#include <stddef.h>
#include <stdio.h>
#include "../vigil_protocol.h"

#define CHECK_S(s, size) typedef char probe_size_##s[(sizeof(VIGIL_##s) == (size)) ? 1 : -1];
#define CHECK_F(s, f, off) typedef char probe_off_##s##_##f[(offsetof(VIGIL_##s, f) == (off)) ? 1 : -1];
VIGIL_LAYOUT(CHECK_S, CHECK_F)

static int first = 1;
static void item(const char *key, size_t value) {
    printf("%s\"%s\": %zu", first ? "{" : ", ", key, value);
    first = 0;
}
#define PRINT_S(s, size) item(#s, sizeof(VIGIL_##s));
#define PRINT_F(s, f, off) item(#s "." #f, offsetof(VIGIL_##s, f));

int main(void) {
    VIGIL_LAYOUT(PRINT_S, PRINT_F)
    printf("}\n");
    return 0;
}
