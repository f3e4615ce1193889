// Every oneDNN operator in one translation unit: parsing Paddle's and oneDNN's headers takes most of a build's
// time, and this way they are parsed once, not once per operator.
#include "conv2d.cc"
#include "batch_norm.cc"
#include "eltwise.cc"
