// The Batch account, Microsoft Entra only (no shared keys), and who may do what on it:
// - the app: the built-in Azure Batch Data Contributor (pools and applications as actions, jobs and their
//   tasks as data actions). Managed pools are created, resized and deleted through the management plane
//   (ARM: pools/write, read, delete, and poolOperationResults/read, polled while a pool is deleted), which
//   checks these same actions. No custom role: none has to be created (roleDefinitions/write) or
//   replicated before it is assigned, and none is left behind by `azd down`. What pools with an identity
//   or a subnet need on those resources is granted in pool-grants.bicep;
// - the operator (AZURE_PRINCIPAL_ID): Azure Batch Account Reader, so `az batch ... --auth-mode login` and
//   Batch Explorer can read pools, jobs and tasks;
// - the account's own identity: Storage Blob Data Contributor on the app's storage account, linked as the
//   account's auto-storage (shared key stays off), where Batch keeps application packages.
// test/deploy/role-actions.test.ts checks every role here against the Microsoft.Batch operations list.
// Pool allocation mode: BatchService (default), or UserSubscription for Spot nodes, which then also needs
// a Key Vault for Batch (access policies for the Microsoft Azure Batch service principal, as Batch
// requires) and, at subscription scope, the Azure Batch Service Orchestration Role (main.bicep).
param name string
param location string
param tags object
param appPrincipalId string
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'
@allowed(['BatchService', 'UserSubscription'])
param poolAllocationMode string = 'BatchService'
@description('Object id of the "Microsoft Azure Batch" service principal in this tenant (user subscription mode only).')
param batchServicePrincipalId string = ''
param storageAccountName string
param identityName string
param keyVaultName string

var userSubscription = poolAllocationMode == 'UserSubscription'
// Built-in role ids (test/fixtures/azure/batch-builtin-roles.json; Azure docs, "Azure built-in roles").
var batchDataContributor = '6aaa78f1-f7de-44ca-8722-c64a23943cae'
var batchAccountReader = '11076f67-66f6-4be0-8f6b-f0609fd05cc9'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// User-assigned, so its storage role exists before the account that links the storage is created.
resource batchIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource batchStorageRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, batchIdentity.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: batchIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// User subscription mode keeps Batch's secrets in a vault of its own (never the tenants' vault): access
// policies, as Batch documents it, with Get, List, Set, Delete and Recover on secrets for Batch.
resource batchVault 'Microsoft.KeyVault/vaults@2023-07-01' = if (userSubscription) {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: false
    enabledForDeployment: true
    enabledForTemplateDeployment: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    accessPolicies: [
      {
        tenantId: tenant().tenantId
        objectId: batchServicePrincipalId
        permissions: { secrets: ['get', 'list', 'set', 'delete', 'recover'] }
      }
    ]
  }
}

resource account 'Microsoft.Batch/batchAccounts@2024-07-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${batchIdentity.id}': {} }
  }
  // Newlines only inside the object literals: no multi-line argument lists, for older Bicep versions.
  properties: union({
    poolAllocationMode: poolAllocationMode
    publicNetworkAccess: 'Enabled'
    allowedAuthenticationModes: ['AAD']
    autoStorage: {
      storageAccountId: storage.id
      authenticationMode: 'BatchAccountManagedIdentity'
    }
  }, userSubscription ? {
    keyVaultReference: {
      id: resourceId('Microsoft.KeyVault/vaults', keyVaultName)
      url: 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/'
    }
  } : {})
  dependsOn: [batchStorageRole, batchVault]
}

resource appBatchRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, batchDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', batchDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userBatchReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(account.id, userPrincipalId, batchAccountReader)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', batchAccountReader)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

output name string = account.name
output endpoint string = 'https://${account.properties.accountEndpoint}'
output poolAllocationMode string = poolAllocationMode
