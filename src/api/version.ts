declare global {
  var KVD_BUILD_VERSION: string | undefined;
}

/** kvd's version: baked into the executable at build time; "dev" when run from source. */
export const VERSION: string = globalThis.KVD_BUILD_VERSION ?? '0.0.0-dev';

/** The etcd API version kvd implements, as /version reports it. */
export const ETCD_API_VERSION = '3.4.0';
