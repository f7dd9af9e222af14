#ifndef WHIPROUND_CSODIUM_SHIM_H
#define WHIPROUND_CSODIUM_SHIM_H
#include <sodium.h>
#endif
