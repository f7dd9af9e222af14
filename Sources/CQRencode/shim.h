#ifndef WHIPROUND_CQRENCODE_SHIM_H
#define WHIPROUND_CQRENCODE_SHIM_H
#include <qrencode.h>
#endif
