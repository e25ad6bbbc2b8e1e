// Storage with shared-key access off: the host (triggers, timers, deployment package) and the app
// reach it through the identity only. The queues the app uses, and their poison queues, are created
// here (test/deploy/template-contract.test.ts checks this list against shared/adapters/queues/names.ts).
param name string
param location string
param tags object
param deploymentContainerName string
param appPrincipalId string
param userPrincipalId string = ''
@allowed(['User', 'ServicePrincipal', 'Group'])
param userPrincipalType string = 'User'

var queueNames = [
  'job-requests'
  'job-requests-poison'
  'slotwise-intake-deferred'
  'slotwise-intake-deferred-poison'
  'slotwise-plan'
  'slotwise-plan-poison'
  'slotwise-submit'
  'slotwise-submit-poison'
  'slotwise-notify'
  'slotwise-notify-poison'
  'slotwise-retry'
  'slotwise-retry-poison'
  'slotwise-reconcile'
  'slotwise-reconcile-poison'
  'slotwise-pools'
  'slotwise-pools-poison'
  'slotwise-tes'
  'slotwise-tes-poison'
]

// Built-in role ids (Azure docs, "Azure built-in roles").
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

// Blob Data Owner: the host's blobs, and the results store (a container per tenant, created by the app,
// whose SAS for tasks are signed with user delegation keys: generateUserDelegationKey/action, in this
// role; test/results/storage-role.test.ts checks it against the published role).
var appRoles = [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]

resource appRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in appRoles: {
    name: guid(storage.id, appPrincipalId, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The operator may send test messages to the intake queue.
resource userQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
