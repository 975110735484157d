# nkms_secp256k1: a small N-API addon over libsecp256k1 (MIT), whose sources ship with the
# `secp256k1` npm package. Built by scripts/build-native.cjs; optional (the library falls back
# to the `secp256k1` package's binding when native/build/Release/nkms_secp256k1.node is missing).
# It lives in native/, not at the package root, so that npm never runs node-gyp on its own.
{
  'targets': [
    {
      'target_name': 'nkms_secp256k1',
      'sources': ['nkms_secp256k1.c'],
      'include_dirs': [
        '../node_modules/secp256k1/src/secp256k1',
        '../node_modules/secp256k1/src/secp256k1/src',
      ],
      'cflags': ['-O3', '-fvisibility=hidden', '-Wno-unused-function', '-Wno-nonnull-compare'],
      'cflags!': ['-O2', '-Os'],
      'defines': [
        # the same configuration as the secp256k1 package's own binding.gyp
        'ECMULT_GEN_PREC_BITS=4',
        'ECMULT_WINDOW_SIZE=15',
        'USE_ENDOMORPHISM=1',
        'USE_NUM_NONE=1',
        'USE_FIELD_INV_BUILTIN=1',
        'USE_SCALAR_INV_BUILTIN=1',
        'NAPI_VERSION=8',
      ],
      'conditions': [
        ['target_arch=="x64" and OS!="win"', {
          'defines': ['HAVE___INT128=1', 'USE_ASM_X86_64=1', 'USE_FIELD_5X52=1', 'USE_SCALAR_4X64=1'],
        }, {
          'defines': ['USE_FIELD_10X26=1', 'USE_SCALAR_8X32=1'],
        }],
      ],
    },
  ],
}
