/**
 * The one place a storage Backend is built. A repository lives in a local directory (a staging
 * location, a mounted drive: LocalBackend) or in a blob container (ContainerBackend); every command
 * that opens one gets its Backend here, from a directory, a container location, or the staging
 * settings that name the container (account, container, endpoint; credentials from the environment,
 * src/cloud/settings.ts). Adding a kind of storage: ARCHITECTURE.md, "Recipe: adding a storage backend".
 */
import { LocalBackend } from '../repo/backend';
import { type CloudLocation, containerClientFor, describeLocation } from './client';
import { ContainerBackend, type ContainerBackendOptions } from './container-backend';
import { type CloudSettings, resolveCloudLocation } from './settings';

/** Where a repository is. */
export type BackendSpec =
  /** a local directory: a staging location or a mounted drive */
  | { directory: string }
  /** a blob container */
  | { location: CloudLocation }
  /** the container the staging settings at `staging` name (credentials from `env`, or the emulator they name) */
  | { settings: CloudSettings; staging: string; env: Record<string, string | undefined> };

/** Options for a container backend (ignored for a directory). */
export type BackendOptions = ContainerBackendOptions;

/** Builds the Backend for `spec`. The container is not contacted: the first request is the caller's. */
export async function openBackend(spec: { directory: string }): Promise<LocalBackend>;
export async function openBackend(spec: Exclude<BackendSpec, { directory: string }>, options?: BackendOptions): Promise<ContainerBackend>;
export async function openBackend(spec: BackendSpec, options?: BackendOptions): Promise<LocalBackend | ContainerBackend>;
export async function openBackend(spec: BackendSpec, options: BackendOptions = {}): Promise<LocalBackend | ContainerBackend> {
  if ('directory' in spec) return new LocalBackend(spec.directory);
  const location = 'location' in spec ? spec.location : await resolveCloudLocation(spec.settings, spec.staging, spec.env);
  return new ContainerBackend(containerClientFor(location), describeLocation(location), options);
}
