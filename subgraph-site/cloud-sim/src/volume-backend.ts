/**
 * The storage array behind Cinder volumes of replication-enabled volume types. The site
 * service plugs its storage driver in here, so a volume created through Cinder exists on the
 * array that replicates it, and "manage existing" finds the volumes failover copied there.
 */
export interface CloudVolumeBackend {
  /** Create the array volume backing a new Cinder volume; returns the array volume name. */
  createVolume(name: string, sizeBytes: number): Promise<string>;
  /** Destroy (and eradicate) the array volume when Cinder deletes the volume. */
  deleteVolume(arrayVolumeName: string): Promise<void>;
  /** Does an array volume with this name exist (used by manage-existing)? Returns size in bytes or null. */
  volumeSize(arrayVolumeName: string): Promise<number | null>;
}

/**
 * The array volume name of a Cinder volume, as the Pure Storage Cinder driver names it:
 * `volume-<uuid>-cinder` (43 characters of letters, digits and '-', legal on FlashArray).
 */
export const arrayVolumeNameFor = (cinderVolumeId: string): string => `volume-${cinderVolumeId}-cinder`;

/** An in-memory backend for tests and labs without a storage driver; `volumes` maps name -> bytes. */
export interface InMemoryVolumeBackend extends CloudVolumeBackend {
  readonly volumes: Map<string, number>;
}

/** Creates an in-memory {@link CloudVolumeBackend}. */
export function createInMemoryVolumeBackend(): InMemoryVolumeBackend {
  const volumes = new Map<string, number>();
  return {
    volumes,
    async createVolume(name, sizeBytes) {
      if (volumes.has(name)) throw new Error(`Volume ${name} already exists.`);
      volumes.set(name, sizeBytes);
      return name;
    },
    async deleteVolume(name) {
      volumes.delete(name);
    },
    async volumeSize(name) {
      return volumes.get(name) ?? null;
    },
  };
}
