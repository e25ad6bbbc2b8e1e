// The Function App: Flex Consumption, Node 22, the user-assigned identity for the host and the app.
// Its app settings set every setting the code reads in production, in identity form (no keys);
// test/deploy/template-contract.test.ts checks the block between the settings markers against
// shared/adapters/config/config.ts and the function table's %Setting% references.
param name string
param planName string
param location string
param tags object
@description('azd finds the app to deploy to by the tag azd-service-name with this value: the site carries it, the plan does not.')
param serviceName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsConnectionString string
param cosmosEndpoint string
param cosmosDatabase string
param batchEndpoint string
param batchAccountName string
param keyVaultUri string
param allowedOrigins array = []
@allowed(['BatchService', 'UserSubscription'])
param batchPoolAllocationMode string = 'BatchService'
@description('The primary Batch account\'s region (its location): tenants may be restricted to regions.')
param batchRegion string = ''
@description('The Batch accounts beside the primary one, each { name, endpoint, region, allocationMode, weight }: the app signs in to them with its identity, so no key.')
param additionalBatchAccounts array = []
param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048

// Azure Resource Manager of this cloud (https://management.azure.com/ in the public cloud), without the
// trailing slash: the app creates, resizes and deletes managed pools there (Batch's management plane).
var resourceManager = environment().resourceManager
var managementEndpoint = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager
// SLOTWISE_BATCH_ACCOUNTS: the array as JSON text (string() of an array is its JSON:
// learn.microsoft.com/azure/azure-resource-manager/bicep/bicep-functions-string#string), empty when there is
// none, as the app's default (shared/adapters/config/config.ts).
var batchAccountsSetting = empty(additionalBatchAccounts) ? '' : string(additionalBatchAccounts)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      cors: { allowedOrigins: union(['https://portal.azure.com'], allowedOrigins) }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}/${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'node', version: '22' }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // settings:begin
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
    AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
    AzureWebJobsStorage__tableServiceUri: 'https://${storageAccountName}.table.${environment().suffixes.storage}'
    // The host refuses larger request bodies (413) before any function runs or reads a key; 1 MiB +
    // 128 KiB leaves the functions' own 1 MiB check (a problem naming the limit) the bodies just over it.
    FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1179648'
    AZURE_CLIENT_ID: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    KEY_VAULT_URI: keyVaultUri
    COSMOS_ENDPOINT: cosmosEndpoint
    COSMOS_DATABASE: cosmosDatabase
    BATCH_ENDPOINT: batchEndpoint
    BATCH_ACCOUNT_NAME: batchAccountName
    BATCH_POOL_ALLOCATION_MODE: batchPoolAllocationMode
    BATCH_REGION: batchRegion
    SLOTWISE_BATCH_ACCOUNTS: batchAccountsSetting
    SLOTWISE_ACCOUNT_QUOTA_SECONDS: '600'
    // Pools go through the management plane (ARM: an identity and a subnet can be given to a pool only
    // there); jobs, tasks and reads through the account's endpoint above.
    BATCH_MANAGEMENT_ENDPOINT: managementEndpoint
    BATCH_SUBSCRIPTION_ID: subscription().subscriptionId
    BATCH_RESOURCE_GROUP: resourceGroup().name
    SLOTWISE_PUBLIC_URL: 'https://${app.properties.defaultHostName}'
    SLOTWISE_RECONCILE_SCHEDULE: '0 */1 * * * *'
    SLOTWISE_SWEEP_SCHEDULE: '*/30 * * * * *'
    SLOTWISE_POOL_CONTROL_SCHEDULE: '*/30 * * * * *'
    SLOTWISE_STUCK_AFTER_SECONDS: '120'
    SLOTWISE_POOL_IDLE_TTL_SECONDS: '900'
    SLOTWISE_POOL_MAX_NODES: '500'
    SLOTWISE_POOL_SHRINK_AFTER_SECONDS: '300'
    SLOTWISE_QUOTA_RETRY_SECONDS: '30'
    SLOTWISE_SUBMIT_RETRY_BASE_SECONDS: '10'
    SLOTWISE_BATCH_AUTH_GRACE_SECONDS: '1800'
    SLOTWISE_ALLOCATION_DEADLINE_SECONDS: '1800'
    // Least life of a task's SAS for the results store (longer for jobs with a longer maxWallClockTime).
    SLOTWISE_RESULTS_SAS_HOURS: '48'
    SLOTWISE_POOL_IMAGE: 'canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest'
    SLOTWISE_POOL_NODE_AGENT_SKU: 'batch.node.ubuntu 22.04'
    // Empty: the built-in price table (shared/planner/cost.ts); JSON overrides per VM size.
    SLOTWISE_PRICES: ''
    // GA4GH TES: the VM size tasks run on when they fit it, and the cap on nodes of each lane's pool.
    SLOTWISE_TES_VM_SIZE: 'Standard_D8s_v5'
    SLOTWISE_TES_MAX_NODES: '20'
    // settings:end
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
output batchAccounts string = batchAccountsSetting
