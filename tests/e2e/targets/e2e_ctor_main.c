// Linked with libe2e_ctor.so; makes no clock call of its own.
#include <stdio.h>

int e2e_ctor_value(void);

int main(void) {
    printf("ctor value %d\n", e2e_ctor_value());
    return 0;
}
