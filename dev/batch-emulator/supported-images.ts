/**
 * The images the emulated account offers, as `GET /supportedimages` lists them (a small subset of
 * Batch's list). A pool with a container configuration needs an image whose entry lists the
 * `DockerCompatible` capability; Batch refuses the pool otherwise, and so does the emulator.
 */
export interface SupportedImage {
  readonly nodeAgentSKUId: string;
  readonly imageReference: { publisher: string; offer: string; sku: string; version: string };
  readonly osType: 'linux' | 'windows';
  readonly capabilities?: readonly string[];
  readonly verificationType: 'verified' | 'unverified';
}

export const supportedImages: readonly SupportedImage[] = [
  {
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    imageReference: {
      publisher: 'canonical',
      offer: '0001-com-ubuntu-server-jammy',
      sku: '22_04-lts',
      version: 'latest',
    },
    osType: 'linux',
    verificationType: 'verified',
  },
  {
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    imageReference: { publisher: 'canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
    osType: 'linux',
    verificationType: 'verified',
  },
  {
    nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    imageReference: { publisher: 'microsoft-dsvm', offer: 'ubuntu-hpc', sku: '2204', version: 'latest' },
    osType: 'linux',
    capabilities: ['DockerCompatible', 'NvidiaTeslaDriverInstalled'],
    verificationType: 'verified',
  },
  {
    nodeAgentSKUId: 'batch.node.windows amd64',
    imageReference: {
      publisher: 'microsoftwindowsserver',
      offer: 'windowsserver',
      sku: '2022-datacenter-core-smalldisk-with-containers',
      version: 'latest',
    },
    osType: 'windows',
    capabilities: ['DockerCompatible'],
    verificationType: 'verified',
  },
];

/** The entry for a Marketplace image reference (case-insensitive), if the account offers it. */
export function findSupportedImage(ref: Record<string, unknown>): SupportedImage | undefined {
  const same = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  return supportedImages.find(
    (i) =>
      same(ref.publisher, i.imageReference.publisher) &&
      same(ref.offer, i.imageReference.offer) &&
      same(ref.sku, i.imageReference.sku),
  );
}
