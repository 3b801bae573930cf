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
  /**
   * Renames an array volume, as Cinder's Pure driver renames the volume it manages (to
   * `volume-<id>-cinder`) or unmanages (`-unmanaged` appended). A repeat finds the rename done.
   */
  renameVolume(from: string, to: string): Promise<void>;
}

/**
 * The array volume name of a Cinder volume, as the Pure Storage Cinder driver names it:
 * `volume-<uuid>-cinder` (43 characters of letters, digits and '-', legal on FlashArray).
 */
export const arrayVolumeNameFor = (cinderVolumeId: string): string => `volume-${cinderVolumeId}-cinder`;

/**
 * The name Cinder's Pure driver gives the array volume it manages: `volume-<id>-cinder`, in the pod of
 * the reference when it names a pod volume (`POD::volume-<id>-cinder`).
 */
export function managedArrayVolumeName(sourceName: string, cinderVolumeId: string): string {
  const pod = sourceName.includes('::') ? sourceName.slice(0, sourceName.indexOf('::')) : '';
  return `${pod ? `${pod}::` : ''}${arrayVolumeNameFor(cinderVolumeId)}`;
}

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
    async renameVolume(from, to) {
      const size = volumes.get(from);
      if (size === undefined) {
        if (volumes.has(to)) return;
        throw new Error(`Volume ${from} does not exist.`);
      }
      if (volumes.has(to)) throw new Error(`Volume ${to} already exists.`);
      volumes.delete(from);
      volumes.set(to, size);
    },
  };
}
